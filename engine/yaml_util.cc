#include "engine/yaml_util.h"

#include <string>
#include <vector>

namespace vigil::engine {
namespace {

// Aliases can make a tree a graph; nothing legitimate nests this deep.
constexpr int kMaxDepth = 200;

// Whether the quoted scalar opening at text[pos] is closed before the end.
bool QuoteCloses(std::string_view text, size_t pos) {
  const char quote = text[pos];
  for (size_t i = pos + 1; i < text.size(); ++i) {
    if (quote == '"' && text[i] == '\\') {
      ++i;  // an escape: the next character is taken as it is
      continue;
    }
    if (text[i] != quote) continue;
    if (quote == '\'' && i + 1 < text.size() && text[i + 1] == '\'') {
      ++i;  // '' is a quote inside a single-quoted scalar
      continue;
    }
    return true;
  }
  return false;
}

void CheckNode(const YAML::Node& n, std::string_view text, int depth) {
  if (depth > kMaxDepth || !n.IsDefined()) return;
  if (n.IsScalar()) {
    // yaml-cpp tags quoted (and block) scalars "!", and marks them at their
    // first character.
    const YAML::Mark m = n.Mark();
    if (n.Tag() != "!" || m.pos < 0 ||
        static_cast<size_t>(m.pos) >= text.size()) {
      return;
    }
    const char c = text[static_cast<size_t>(m.pos)];
    if ((c == '\'' || c == '"') && !QuoteCloses(text, static_cast<size_t>(m.pos))) {
      throw YAML::ParserException(m, "found unexpected end of stream");
    }
  } else if (n.IsMap()) {
    for (auto it = n.begin(); it != n.end(); ++it) {
      CheckNode(it->first, text, depth + 1);
      CheckNode(it->second, text, depth + 1);
    }
  } else if (n.IsSequence()) {
    for (const YAML::Node& c : n) CheckNode(c, text, depth + 1);
  }
}

bool IsMergeKey(const YAML::Node& key) {
  return key.IsScalar() && key.Tag() != "!" && key.Scalar() == "<<";
}

void Merge(YAML::Node n, int depth) {
  if (depth > kMaxDepth || !n.IsDefined()) return;
  if (n.IsSequence()) {
    for (YAML::Node c : n) Merge(c, depth + 1);
    return;
  }
  if (!n.IsMap()) return;
  std::vector<YAML::Node> sources;
  bool has_merge = false;
  for (auto it = n.begin(); it != n.end(); ++it) {
    Merge(it->second, depth + 1);
    if (!IsMergeKey(it->first)) continue;
    has_merge = true;
    const YAML::Node v = it->second;
    if (v.IsMap()) {
      sources.push_back(v);
    } else if (v.IsSequence()) {
      for (const YAML::Node& m : v) {
        if (!m.IsMap()) {
          throw YAML::ParserException(
              m.Mark(), "map merge requires map or sequence of maps as the value");
        }
        sources.push_back(m);
      }
    } else {
      throw YAML::ParserException(
          v.Mark(), "map merge requires map or sequence of maps as the value");
    }
  }
  if (!has_merge) return;
  n.remove("<<");
  for (const YAML::Node& src : sources) {
    for (auto it = src.begin(); it != src.end(); ++it) {
      if (!it->first.IsScalar() || IsMergeKey(it->first)) continue;
      const std::string key = it->first.Scalar();
      const YAML::Node& present = n;  // a const lookup adds no key
      if (!present[key].IsDefined()) n[key] = it->second;
    }
  }
}

}  // namespace

void CheckQuotedScalarsClosed(const YAML::Node& root, std::string_view text) {
  CheckNode(root, text, 0);
}

void ApplyMergeKeys(YAML::Node root) { Merge(root, 0); }

YAML::Node LoadYaml(std::string_view text) {
  YAML::Node root = YAML::Load(std::string(text));
  CheckQuotedScalarsClosed(root, text);
  ApplyMergeKeys(root);
  return root;
}

}  // namespace vigil::engine
