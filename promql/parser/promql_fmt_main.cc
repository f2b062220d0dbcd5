// promql_fmt: reads one PromQL query per line on stdin and prints its
// canonical form, or the parse error, per line. A debugging aid for the
// parser (like `promtool promql format`).
#include <iostream>
#include <string>

#include "promql/parser/parser.h"
#include "promql/parser/printer.h"

int main() {
  std::string line;
  int errors = 0;
  while (std::getline(std::cin, line)) {
    if (line.empty()) {
      continue;
    }
    auto e = vigil::promql::parser::ParseExpr(line);
    if (e.ok()) {
      std::cout << "ok\t" << vigil::promql::parser::Format(**e) << "\n";
    } else {
      ++errors;
      std::cout << "error\t" << e.status().message() << "\t" << line << "\n";
    }
  }
  return errors == 0 ? 0 : 1;
}
