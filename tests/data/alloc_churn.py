# A deterministic allocation-heavy Python workload: dicts, lists, strings, objects and their
# destruction. Prints a checksum that must be identical under every allocator.
import hashlib


class Node:
    __slots__ = ("key", "value", "children")

    def __init__(self, key, value):
        self.key = key
        self.value = value
        self.children = []


def build(depth, width, seed):
    root = Node(seed, str(seed) * 3)
    frontier = [root]
    for level in range(depth):
        nxt = []
        for node in frontier:
            for i in range(width):
                child = Node(node.key * 31 + i, {"l": level, "i": i, "s": "x" * (i % 17)})
                node.children.append(child)
                nxt.append(child)
        frontier = nxt
    return root


def walk(node, h):
    h.update(str(node.key).encode())
    for c in node.children:
        walk(c, h)


h = hashlib.sha256()
for round_ in range(6):
    tree = build(5, 6, round_)
    walk(tree, h)
    words = {}
    for i in range(40000):
        w = "w%d" % (i * 7919 % 5003)
        words[w] = words.get(w, 0) + i
    h.update(repr(sorted(words.items())[:50]).encode())
    big = [bytes(range(i % 256)) * (i % 5 + 1) for i in range(3000)]
    h.update(b"".join(big[::97]))
    del tree, words, big
print(h.hexdigest())
