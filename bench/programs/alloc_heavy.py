"""Allocation-heavy Python: dict, list, string and object churn (about a second under glibc).

Models an interpreter's typical mix: short-lived dicts and small objects, growing lists, string
building and splitting, and a cache that is filled and then mostly evicted.  Run by the heapkit
benchmark runner under each allocator through LD_PRELOAD; the interpreter's own small-object
allocator sits on top of malloc, so this measures what reaches malloc from real programs.
Scale with the first argument (default 1.0).
"""
import random
import sys


class Record:
    __slots__ = ("key", "value", "tags")

    def __init__(self, key, value, tags):
        self.key = key
        self.value = value
        self.tags = tags


def churn(scale):
    rng = random.Random(12345)
    checksum = 0
    cache = {}
    for round_ in range(int(12 * scale)):
        rows = []
        for i in range(6000):
            key = "k%d-%d" % (round_, i)
            rec = Record(key, {"id": i, "name": key * (1 + i % 5), "vals": list(range(i % 17))},
                         [str(rng.random())[:8] for _ in range(i % 4)])
            rows.append(rec)
            cache[key] = rec
        text = ",".join(r.key for r in rows)
        parts = text.split(",")
        checksum += len(parts) + sum(len(r.value["vals"]) for r in rows[::7])
        big = [bytearray(64 + (i % 512)) for i in range(2000)]
        checksum += sum(len(b) for b in big[::50])
        # evict about 90 % of the cache: the long-lived part shrinks
        for k in list(cache.keys()):
            if rng.random() < 0.9:
                del cache[k]
    return checksum + len(cache)


if __name__ == "__main__":
    scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    print("result: checksum=%d" % churn(scale))
