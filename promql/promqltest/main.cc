// promqltest: runs promqltest scripts (same as `vigil test promql`).
#include <iostream>
#include <string>
#include <vector>

#include "promql/promqltest/cli.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return vigil::promql::promqltest::RunTestPromql(args, std::cout, std::cerr);
}
