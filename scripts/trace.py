# gdb script of scripts/trace: single-steps the loops of alloc_tag_bench on
# a guest stopped at QEMU's gdb stub and writes every instruction address
# of whole iterations to $TRACE_OUT, one "LOOP ADDRESS" line each.
#
# An iteration starts when the loop's allocation function is entered (for
# the page loops, with the loop's order in %esi, the second argument) and
# ends when it is entered again: it holds the allocation, the free and the
# loop's own instructions. The first iterations after the module's worker
# starts (work_for_cpu_fn) are left out, as the benchmark leaves out its
# warm-up.
#
# rust_alloc_bench (TRACE_BENCH) runs at load: its loops start after
# do_init_module, and both allocate through krealloc_noprof, told apart by
# the size (kbox's 64 bytes; kvec's 8 to 233, never 64) and not counting
# the frees' krealloc(p, 0).
#
# Environment: TRACE_PORT (gdb stub port), TRACE_MAP (System.map),
# TRACE_OUT, TRACE_ITERATIONS (iterations recorded a loop), TRACE_BENCH.
import os

import gdb

SKIP = 20
# LOOP, function, condition on its arguments.
LOOPS = [
    ("page0", "__alloc_pages_noprof", "$rsi == 0"),
    ("page3", "__alloc_pages_noprof", "$rsi == 3"),
    ("kmalloc", "__kmalloc_noprof", None),
]
RUST_LOOPS = [
    ("kbox", "krealloc_noprof", "$rsi == 64"),
    ("kvec", "krealloc_noprof", "$rsi != 64 && $rsi != 0"),
]
# A loop that runs away (no new iteration) is cut here.
MAX_STEPS = 20000


def symbols(path):
    table = {}
    with open(path) as f:
        for line in f:
            addr, _, name = line.split()[:3]
            table[name] = int(addr, 16)
    return table


def pc():
    return int(gdb.parse_and_eval("$pc")) & (2**64 - 1)


def breakpoint_at(addr, cond):
    bp = gdb.Breakpoint(f"*{addr:#x}", type=gdb.BP_HARDWARE_BREAKPOINT, internal=True)
    if cond:
        bp.condition = cond
    return bp


def run_to(addr, cond, times):
    bp = breakpoint_at(addr, cond)
    for _ in range(times):
        gdb.execute("continue", to_string=True)
    bp.delete()


def entered(addr, cond):
    return pc() == addr and (cond is None or bool(gdb.parse_and_eval(cond)))


def main():
    syms = symbols(os.environ["TRACE_MAP"])
    iterations = int(os.environ["TRACE_ITERATIONS"])
    gdb.execute("set pagination off")
    gdb.execute("set confirm off")
    gdb.execute(f"target remote 127.0.0.1:{os.environ['TRACE_PORT']}", to_string=True)
    if os.environ.get("TRACE_BENCH") == "rust_alloc_bench":
        run_to(syms["do_init_module"], None, 1)
        loops = RUST_LOOPS
    else:
        run_to(syms["work_for_cpu_fn"], None, 1)
        loops = LOOPS
    with open(os.environ["TRACE_OUT"], "w") as out:
        for loop, func, cond in loops:
            addr = syms[func]
            run_to(addr, cond, SKIP)
            for _ in range(iterations):
                for step in range(MAX_STEPS):
                    out.write(f"{loop} {pc():x}\n")
                    gdb.execute("stepi", to_string=True)
                    # A step that did not leave the entry is no iteration.
                    if step > 0 and entered(addr, cond):
                        break
                else:
                    raise gdb.GdbError(f"{loop}: no new iteration in {MAX_STEPS} steps")
            out.flush()
    gdb.execute("kill", to_string=True)


try:
    main()
except Exception as e:
    print(f"trace.py: {e}")
    gdb.execute("quit 1")
gdb.execute("quit 0")
