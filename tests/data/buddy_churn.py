# Allocation-heavy Python for the buddy engine's program tests and measurements: dicts, lists,
# strings and bytes of many sizes, built, resized and dropped; prints a checksum that must be
# the same under any malloc.
import hashlib

h = hashlib.sha256()
table = {}
for i in range(60000):
    key = "k%d" % (i * 7919 % 100003)
    table[key] = [i, str(i) * (i % 13), {"n": i, "s": "x" * (i % 300)}]
    if i % 3 == 0:
        table.pop("k%d" % ((i // 2) * 7919 % 100003), None)
for key in sorted(table)[:5000]:
    h.update(key.encode())
    h.update(repr(table[key][:2]).encode())

chunks = []
for i in range(4000):
    chunks.append(bytes(range(256)) * (1 + i % 40))
    if len(chunks) > 300:
        h.update(chunks.pop(i % 300)[:64])
text = "".join(str(x) for x in range(100000))
h.update(text.encode())
words = " ".join("w%d" % (i % 977) for i in range(200000)).split()
counts = {}
for w in words:
    counts[w] = counts.get(w, 0) + 1
h.update(repr(sorted(counts.items())[:50]).encode())
big = []
for i in range(200):
    big.append(bytearray(i * 1000))
    big[-1][-1:] = b"z"
h.update(b"".join(bytes(b[-1:]) for b in big))
print(len(table), len(counts), h.hexdigest())
