# A small program whose heap is worth looking at, for `heapkit run --profile --report`:
#
#   heapkit run --profile --report heap.html -- python3 docs/examples/heap_demo.py
#
# It works in phases, so the live/mapped curve has a shape and the flame graph names the
# functions that hold memory at exit:
#   1. load     a corpus of documents (strings of 1 to 8 KiB) is generated and kept
#   2. index    an inverted index: word -> list of document numbers (lists grown by appends)
#   3. drop     the oldest three quarters of the documents are released; the index stays
#   4. render   one text report per frequent word (large joined strings) and a byte buffer
#   5. cache    a cache of encoded pages that lives until exit
# CPython serves objects up to 512 bytes from its own arenas (mapped directly, not through
# malloc), so the blocks heapkit sees are the larger ones: documents, list and dict tables,
# reports, buffers. Deterministic; prints a checksum and the phases' sizes on stdout.
import hashlib
import random

WORDS = [
    "alloc", "arena", "block", "buddy", "cache", "chunk", "class", "commit", "decay", "free",
    "heap", "huge", "large", "list", "map", "merge", "order", "page", "purge", "segment",
    "size", "slab", "small", "span", "split", "thread", "unmap", "usable", "waste", "zero",
]


def load_corpus(rng, count):
    """Phase 1: documents of 1 to 8 KiB, each a string of its own."""
    corpus = []
    for n in range(count):
        words = rng.choices(WORDS, k=rng.randint(150, 1200))
        corpus.append("doc%d: %s" % (n, " ".join(words)))
    return corpus


def build_index(corpus):
    """Phase 2: word -> document numbers, plus each document's word counts."""
    index = {}
    counts = []
    for n, text in enumerate(corpus):
        seen = {}
        for word in text.split()[1:]:
            seen[word] = seen.get(word, 0) + 1
        for word in seen:
            index.setdefault(word, []).append(n)
        counts.append(seen)
    return index, counts


def drop_oldest(corpus):
    """Phase 3: keep the newest quarter of the documents."""
    return corpus[len(corpus) * 3 // 4:]


def render_reports(index, counts):
    """Phase 4: one text report per word, and a growing byte buffer of them all."""
    reports = {}
    buffer = bytearray()
    for word, docs in sorted(index.items()):
        lines = ["%s in %d documents" % (word, len(docs))]
        lines += ["  doc %d: %d times" % (n, counts[n][word]) for n in docs]
        reports[word] = "\n".join(lines)
        buffer += reports[word].encode()
    return reports, buffer


def fill_cache(rng, reports):
    """Phase 5: encoded pages of the reports, kept until exit."""
    cache = {}
    names = sorted(reports)
    for i in range(3000):
        word = names[i % len(names)]
        start = rng.randrange(0, max(1, len(reports[word]) - 4096))
        cache[(word, i)] = reports[word][start:start + rng.randint(1024, 16384)].encode()
    return cache


def main():
    rng = random.Random(13)
    digest = hashlib.sha256()

    corpus = load_corpus(rng, 12000)
    print("load:   %d documents, %d characters" % (len(corpus), sum(map(len, corpus))))

    index, counts = build_index(corpus)
    print("index:  %d words, %d postings" % (len(index), sum(map(len, index.values()))))

    corpus = drop_oldest(corpus)
    print("drop:   %d documents kept" % len(corpus))

    reports, buffer = render_reports(index, counts)
    digest.update(buffer)
    print("render: %d reports, %d bytes" % (len(reports), len(buffer)))
    del buffer, counts

    cache = fill_cache(rng, reports)
    for key in sorted(cache)[::100]:
        digest.update(cache[key])
    print("cache:  %d pages, %d bytes" % (len(cache), sum(map(len, cache.values()))))
    print(digest.hexdigest())


if __name__ == "__main__":
    main()
