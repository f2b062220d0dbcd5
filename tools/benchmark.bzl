"""cc_benchmark: a Google Benchmark binary plus a smoke test that runs it briefly.

The smoke test keeps benchmarks from rotting; figures come only from running
the binary itself under `-c opt` (see bench/README.md).
"""

def cc_benchmark(name, srcs, deps = [], **kwargs):
    native.cc_binary(
        name = name,
        srcs = srcs,
        testonly = True,
        deps = deps + ["//third_party/system:benchmark_main"],
        tags = ["benchmark"],
        **kwargs
    )
    native.sh_test(
        name = name + "_smoke_test",
        srcs = ["//tools:run_benchmark_smoke.sh"],
        args = ["$(location :" + name + ")"],
        data = [":" + name],
        tags = ["benchmark_smoke"],
        size = "medium",
    )
