"""numpy reference for tests/test_optimum.c: the global minimum of (1/N) sum 0.5 ||M x + b - y||^2
over rank(M) <= r (b free with a bias, else 0), by lstsq on [X, 1] and an SVD of the fitted values.

usage: optimum_reference.py X.npy Y.npy BIAS R   (prints the loss with 17 digits)"""
import sys

import numpy as np

X, Y = np.load(sys.argv[1]), np.load(sys.argv[2])
bias, r = int(sys.argv[3]), int(sys.argv[4])
Xa = np.hstack([X, np.ones((X.shape[0], 1))]) if bias else X
B, *_ = np.linalg.lstsq(Xa, Y, rcond=None)
F = Xa @ B
if r < min(X.shape[1], Y.shape[1]):
    mean = F.mean(axis=0) if bias else np.zeros(F.shape[1])
    U, s, Vt = np.linalg.svd(F - mean, full_matrices=False)
    F = (U[:, :r] * s[:r]) @ Vt[:r] + mean
print("%.17g" % (0.5 * np.sum((F - Y) ** 2) / X.shape[0]))
