import os

# Before any OpenMP library loads in a run: spinning idle OpenMP threads make 2-thread training
# 4-10x slower on a 2-core machine (bench/bench_train.py). Same rule as the CLI's main().
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
