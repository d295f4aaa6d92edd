#!/usr/bin/python3
"""Writes a runs CSV drawn from a known Chinchilla law L(N, D) = E + A/N^a + B/D^b:
a size x tokens grid, IsoFLOP profiles (five sizes at each of three budgets,
with the budget column set) and a gradient noise scale per run following
B_crit(L) = B*/L^(1/alpha_B). Deterministic (seeded), stdlib only.

usage: make_runs.py OUT.csv
"""
import math
import random
import sys

E, A, B, ALPHA, BETA = 1.69, 406.4, 410.7, 0.34, 0.28
B_STAR, ALPHA_B = 2e8, 0.21


def loss(n, d):
    return E + A / n**ALPHA + B / d**BETA


def main():
    rng = random.Random(1234)
    rows = []
    sizes = [1e7 * 10 ** (i / 2) for i in range(5)]  # 1e7 .. 1e9
    for i, n in enumerate(sizes):
        for j, ratio in enumerate([2, 8, 32, 128]):
            d = n * ratio
            rows.append((f"grid-n{i}-d{j}", n, d, 0.0))
    for k, c in enumerate([1e17, 1e18, 1e19]):
        # Centre each profile on the law's optimum, G·(C/6)^(β/(α+β)).
        g = (ALPHA * A / (BETA * B)) ** (1 / (ALPHA + BETA))
        n_opt = g * (c / 6) ** (BETA / (ALPHA + BETA))
        for m in range(5):
            n = n_opt * 10 ** ((m - 2) / 2.5)
            rows.append((f"iso-c{k}-n{m}", n, c / (6 * n), c))
    with open(sys.argv[1], "w") as out:
        out.write("id,params,tokens,flops,budget,loss,noise_scale\n")
        for rid, n, d, budget in rows:
            l = loss(n, d) * math.exp(rng.gauss(0, 0.004))
            noise = B_STAR / l ** (1 / ALPHA_B) * math.exp(rng.gauss(0, 0.1))
            out.write(f"{rid},{n:.6g},{d:.6g},{6 * n * d:.6g},{budget:g},{l:.6f},{noise:.6g}\n")


if __name__ == "__main__":
    main()
