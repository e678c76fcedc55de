"""`aml experiment submit --wait` of two checkouts (each with its own .venv, e.g. a clone of the
commit before a change, provisioned with AML_MAGIC_VENV=<clone>/.venv) against plain python, in
the same interleaved rounds (the order alternates each round), medians. For changes that move
the CLI's entry point, where bench_core.py --before cannot run the older checkout.

    .venv/bin/python benchmarks/bench_cli_before_after.py NEW_CHECKOUT OLD_CHECKOUT [ROUNDS]
"""
import os, statistics, subprocess, sys, tempfile, time, compileall
from pathlib import Path
sides = {"new": sys.argv[1], "old": sys.argv[2]}
env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
roots = {}
for name, co in sides.items():
    compileall.compile_dir(co + "/aml_magic", quiet=1)
    d = Path(tempfile.mkdtemp()) / "bench"
    subprocess.run([co + "/.venv/bin/aml", "init", str(d)], check=True, stdout=subprocess.DEVNULL, env=env)
    (d / "trivial.py").write_text("x = 1\n")
    roots[name] = d
py = sides["new"] + "/.venv/bin/python"
def plain(): subprocess.run([py, "trivial.py"], cwd=roots["new"], check=True, env=env)
def cli(name):
    co = sides[name]
    subprocess.run([co + "/.venv/bin/python", co + "/.venv/bin/aml", "experiment", "submit", "-c", "local", "trivial.py", "--wait"],
                   cwd=roots[name], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
fns = {"python": plain, "new": lambda: cli("new"), "old": lambda: cli("old")}
for f in fns.values(): f(); f()
s = {k: [] for k in fns}
for i in range(int(sys.argv[3]) if len(sys.argv) > 3 else 41):
    order = list(fns.items()) if i % 2 == 0 else list(reversed(list(fns.items())))
    for k, f in order:
        t = time.perf_counter(); f(); s[k].append((time.perf_counter() - t) * 1000)
base = statistics.median(s["python"])
for k, v in s.items():
    print(f"{k}: median {statistics.median(v):.1f} ms  {statistics.median(v)/base:.2f}x")
print("load", os.getloadavg())
