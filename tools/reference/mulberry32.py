"""mulberry32, the one seeded generator of a GReaTer run, exactly as ts/optimizer/prng.ts draws.

All arithmetic is on unsigned 32-bit integers (mod 2**32):
    state = state + 0x6D2B79F5
    t = (state ^ (state >> 15)) * (state | 1)
    t = t ^ (t + (t ^ (t >> 7)) * (t | 61))
    value = (t ^ (t >> 14)) / 2**32                 in [0, 1)
uniform integer in [0, n): floor(value * n)
k of n without replacement: partial Fisher-Yates over [0, n): for j in 0..k-1 swap items j and
j + uniform_int(n - j); the sample is items[0:k] in that order.
"""

MASK = 0xFFFFFFFF


class Mulberry32:
    def __init__(self, seed):
        self.state = seed & MASK

    def next(self):
        self.state = (self.state + 0x6D2B79F5) & MASK
        s = self.state
        t = ((s ^ (s >> 15)) * (s | 1)) & MASK
        t = (t ^ ((t + ((t ^ (t >> 7)) * (t | 61))) & MASK)) & MASK
        return ((t ^ (t >> 14)) & MASK) / 4294967296.0

    def uniform_int(self, n):
        return int(self.next() * n)

    def sample_without_replacement(self, n, count):
        if count > n:
            raise ValueError(f"cannot draw {count} distinct items out of {n}")
        items = list(range(n))
        for j in range(count):
            r = j + self.uniform_int(n - j)
            items[j], items[r] = items[r], items[j]
        return items[:count]


if __name__ == "__main__":
    rng = Mulberry32(42)
    print([rng.next() for _ in range(3)], rng.state)
    rng = Mulberry32(7)
    print(rng.sample_without_replacement(10, 5), rng.state)
