// Writes the golden remote-write bodies to testdata/remote_write/:
//   bazel run -c opt //rpc/remote_write:gen_golden
// (uses BUILD_WORKSPACE_DIRECTORY, which `bazel run` sets).
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>

#include "rpc/remote_write/testutil.h"

int main() {
  const char* ws = std::getenv("BUILD_WORKSPACE_DIRECTORY");
  std::string dir = std::string(ws ? ws : ".") + "/testdata/remote_write/";
  for (const auto& [name, req] : vigil::rpc::remote_write::GoldenRequests()) {
    std::string path = dir + name + ".bin";
    std::ofstream f(path, std::ios::binary);
    f << vigil::rpc::remote_write::EncodeBody(req);
    if (!f) {
      std::cerr << "cannot write " << path << "\n";
      return 1;
    }
    std::cout << "wrote " << path << "\n";
  }
  return 0;
}
