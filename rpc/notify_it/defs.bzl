"""notify_e2e_test: a Python end-to-end test run by //rpc/e2e:run_py_test.sh
with the real vigil binary as its first argument."""

def notify_e2e_test(name, extra_args = [], extra_data = []):
    native.sh_test(
        name = name,
        size = "large",
        srcs = ["//rpc/e2e:run_py_test.sh"],
        args = [
            "$(location %s.py)" % name,
            "$(location //rpc/server:vigil)",
        ] + extra_args,
        # The tests share am_e2e_test.py's Alertmanager helpers.
        data = depset([
            name + ".py",
            "am_e2e_test.py",
            "notify_util.py",
            "//rpc/e2e:e2e_util.py",
            "//rpc/server:vigil",
        ] + extra_data).to_list(),
        tags = [
            "exclusive",
            "integration",
        ],
    )
