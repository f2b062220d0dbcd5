#include "rpc/notifier/relabel.h"

#include <cmath>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace vigil::rpc::notifier {
namespace {

struct ActionName {
  RelabelAction action;
  std::string_view name;
};

constexpr ActionName kActionNames[] = {
    {RelabelAction::kReplace, "replace"},
    {RelabelAction::kKeep, "keep"},
    {RelabelAction::kDrop, "drop"},
    {RelabelAction::kKeepEqual, "keepequal"},
    {RelabelAction::kDropEqual, "dropequal"},
    {RelabelAction::kHashMod, "hashmod"},
    {RelabelAction::kLabelMap, "labelmap"},
    {RelabelAction::kLabelDrop, "labeldrop"},
    {RelabelAction::kLabelKeep, "labelkeep"},
    {RelabelAction::kLowercase, "lowercase"},
    {RelabelAction::kUppercase, "uppercase"},
};

// Prometheus 3.5 validates label names as UTF-8 by default: any non-empty,
// valid UTF-8 string.
bool IsValidUtf8LabelName(std::string_view s) {
  if (s.empty()) {
    return false;
  }
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    int len;
    if (c < 0x80) {
      len = 1;
    } else if ((c & 0xe0) == 0xc0 && c >= 0xc2) {
      len = 2;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3;
    } else if ((c & 0xf8) == 0xf0 && c <= 0xf4) {
      len = 4;
    } else {
      return false;
    }
    if (i + len > s.size()) {
      return false;
    }
    for (int k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) {
        return false;
      }
    }
    i += len;
  }
  return true;
}

bool IsNameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_';
}

// Go's regexp `extract`: parses a group reference after '$'. On success sets
// `name` and `rest` (what follows the reference).
bool ExtractRef(std::string_view s, std::string_view* name,
                std::string_view* rest) {
  if (s.empty()) {
    return false;
  }
  bool brace = false;
  if (s[0] == '{') {
    brace = true;
    s.remove_prefix(1);
  }
  size_t i = 0;
  while (i < s.size() && IsNameChar(s[i])) {
    ++i;
  }
  if (i == 0) {
    return false;
  }
  *name = s.substr(0, i);
  if (brace) {
    if (i >= s.size() || s[i] != '}') {
      return false;
    }
    ++i;
  }
  *rest = s.substr(i);
  return true;
}

// Group number for an all-digit name without a leading zero, else -1.
int GroupNumber(std::string_view name) {
  int num = 0;
  for (char c : name) {
    if (c < '0' || c > '9' || num >= 100000000) {
      return -1;
    }
    num = num * 10 + (c - '0');
  }
  if (name.size() > 1 && name[0] == '0') {
    return -1;
  }
  return num;
}

// Full (anchored) match of `text`; fills `groups` (size NumberOfCapturing+1).
bool MatchAll(const RE2& re, std::string_view text,
              std::vector<std::string_view>* groups) {
  std::vector<re2::StringPiece> pieces(re.NumberOfCapturingGroups() + 1);
  if (!re.Match(text, 0, text.size(), RE2::ANCHOR_BOTH, pieces.data(),
                static_cast<int>(pieces.size()))) {
    return false;
  }
  groups->assign(pieces.begin(), pieces.end());
  return true;
}

bool MatchOnly(const RE2& re, std::string_view text) {
  return re.Match(text, 0, text.size(), RE2::ANCHOR_BOTH, nullptr, 0);
}

void SetOrDelete(std::map<std::string, std::string>* labels,
                 const std::string& name, std::string value) {
  if (value.empty()) {
    labels->erase(name);
  } else {
    (*labels)[name] = std::move(value);
  }
}

uint32_t RotL(uint32_t x, int c) { return (x << c) | (x >> (32 - c)); }

}  // namespace

absl::StatusOr<RelabelAction> ParseRelabelAction(std::string_view s) {
  const std::string lower = absl::AsciiStrToLower(std::string(s));
  for (const ActionName& a : kActionNames) {
    if (a.name == lower) {
      return a.action;
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown relabel action \"", std::string(s), "\""));
}

std::string_view RelabelActionName(RelabelAction a) {
  for (const ActionName& n : kActionNames) {
    if (n.action == a) {
      return n.name;
    }
  }
  return "unknown";
}

absl::StatusOr<RelabelRule> RelabelRule::Create(RelabelSpec spec) {
  const RelabelAction a = spec.action;
  const std::string name(RelabelActionName(a));
  const RelabelSpec defaults;
  if (a == RelabelAction::kHashMod && spec.modulus == 0) {
    return absl::InvalidArgumentError(
        "relabel configuration for hashmod requires non-zero modulus");
  }
  const bool needs_target =
      a == RelabelAction::kReplace || a == RelabelAction::kHashMod ||
      a == RelabelAction::kLowercase || a == RelabelAction::kUppercase ||
      a == RelabelAction::kKeepEqual || a == RelabelAction::kDropEqual;
  if (needs_target && spec.target_label.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("relabel configuration for ", name,
                     " action requires 'target_label' value"));
  }
  const bool has_var = spec.target_label.find('$') != std::string::npos;
  if (needs_target && !(a == RelabelAction::kReplace && has_var) &&
      !IsValidUtf8LabelName(spec.target_label)) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", spec.target_label,
                     "\" is invalid 'target_label' for ", name, " action"));
  }
  const bool equal_or_case =
      a == RelabelAction::kLowercase || a == RelabelAction::kUppercase ||
      a == RelabelAction::kKeepEqual || a == RelabelAction::kDropEqual;
  if (equal_or_case && spec.replacement != defaults.replacement) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'replacement' can not be set for ", name, " action"));
  }
  if (a == RelabelAction::kKeepEqual || a == RelabelAction::kDropEqual) {
    if (spec.regex != defaults.regex || spec.modulus != 0 ||
        spec.separator != defaults.separator) {
      return absl::InvalidArgumentError(
          absl::StrCat(name,
                       " action requires only 'source_labels' and "
                       "'target_label', and no other fields"));
    }
  }
  if (a == RelabelAction::kLabelDrop || a == RelabelAction::kLabelKeep) {
    if (!spec.source_labels.empty() || !spec.target_label.empty() ||
        spec.modulus != 0 || spec.separator != defaults.separator ||
        spec.replacement != defaults.replacement) {
      return absl::InvalidArgumentError(absl::StrCat(
          name, " action requires only 'regex', and no other fields"));
    }
  }
  RE2::Options opts;
  opts.set_log_errors(false);
  auto re = std::make_shared<const RE2>(
      absl::StrCat("^(?:", spec.regex, ")$"), opts);
  if (!re->ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid regex \"", spec.regex, "\": ", re->error()));
  }
  return RelabelRule(std::move(spec), std::move(re));
}

bool RelabelRule::Apply(std::map<std::string, std::string>* labels) const {
  std::string val;
  for (size_t i = 0; i < spec_.source_labels.size(); ++i) {
    if (i > 0) {
      val += spec_.separator;
    }
    auto it = labels->find(spec_.source_labels[i]);
    if (it != labels->end()) {
      val += it->second;
    }
  }
  auto get = [&](const std::string& name) -> std::string_view {
    auto it = labels->find(name);
    return it == labels->end() ? std::string_view() : it->second;
  };
  std::vector<std::string_view> groups;
  switch (spec_.action) {
    case RelabelAction::kDrop:
      return !MatchOnly(*re_, val);
    case RelabelAction::kKeep:
      return MatchOnly(*re_, val);
    case RelabelAction::kDropEqual:
      return get(spec_.target_label) != val;
    case RelabelAction::kKeepEqual:
      return get(spec_.target_label) == val;
    case RelabelAction::kReplace: {
      if (!MatchAll(*re_, val, &groups)) {
        break;
      }
      const std::string target =
          ExpandTemplate(*re_, spec_.target_label, groups);
      if (!IsValidUtf8LabelName(target)) {
        break;
      }
      SetOrDelete(labels, target,
                  ExpandTemplate(*re_, spec_.replacement, groups));
      break;
    }
    case RelabelAction::kLowercase:
      SetOrDelete(labels, spec_.target_label, absl::AsciiStrToLower(val));
      break;
    case RelabelAction::kUppercase:
      SetOrDelete(labels, spec_.target_label, absl::AsciiStrToUpper(val));
      break;
    case RelabelAction::kHashMod: {
      const std::array<uint8_t, 16> h = Md5(val);
      // The low 8 bytes, big-endian, as Prometheus computes it.
      uint64_t x = 0;
      for (int i = 8; i < 16; ++i) {
        x = (x << 8) | h[i];
      }
      SetOrDelete(labels, spec_.target_label,
                  absl::StrCat(x % spec_.modulus));
      break;
    }
    case RelabelAction::kLabelMap: {
      // Collect first: the map is edited while its old names are read.
      std::vector<std::pair<std::string, std::string>> add;
      for (const auto& [name, value] : *labels) {
        if (MatchAll(*re_, name, &groups)) {
          add.emplace_back(ExpandTemplate(*re_, spec_.replacement, groups),
                           value);
        }
      }
      for (auto& [name, value] : add) {
        if (!name.empty()) {
          SetOrDelete(labels, name, std::move(value));
        }
      }
      break;
    }
    case RelabelAction::kLabelDrop:
    case RelabelAction::kLabelKeep: {
      const bool drop_matching = spec_.action == RelabelAction::kLabelDrop;
      for (auto it = labels->begin(); it != labels->end();) {
        if (MatchOnly(*re_, it->first) == drop_matching) {
          it = labels->erase(it);
        } else {
          ++it;
        }
      }
      break;
    }
  }
  return true;
}

bool ApplyRelabel(absl::Span<const RelabelRule> rules,
                  std::map<std::string, std::string>* labels) {
  for (const RelabelRule& r : rules) {
    if (!r.Apply(labels)) {
      return false;
    }
  }
  return true;
}

bool RelabelLabels(absl::Span<const RelabelRule> rules,
                   const storage::Labels& in, storage::Labels* out) {
  std::map<std::string, std::string> m;
  for (const storage::Label& l : in) {
    m.emplace(l.name, l.value);
  }
  if (!ApplyRelabel(rules, &m)) {
    return false;
  }
  std::vector<storage::Label> v;
  v.reserve(m.size());
  for (auto& [name, value] : m) {
    v.push_back({name, value});
  }
  *out = storage::Labels::FromSorted(std::move(v));
  return true;
}

std::string ExpandTemplate(const RE2& re, std::string_view tmpl,
                           absl::Span<const std::string_view> groups) {
  std::string out;
  while (!tmpl.empty()) {
    const size_t dollar = tmpl.find('$');
    if (dollar == std::string_view::npos) {
      break;
    }
    out.append(tmpl.substr(0, dollar));
    tmpl.remove_prefix(dollar + 1);
    if (!tmpl.empty() && tmpl[0] == '$') {
      out.push_back('$');
      tmpl.remove_prefix(1);
      continue;
    }
    std::string_view name, rest;
    if (!ExtractRef(tmpl, &name, &rest)) {
      out.push_back('$');  // malformed: the '$' stays as text
      continue;
    }
    tmpl = rest;
    int idx = GroupNumber(name);
    if (idx < 0) {
      const auto& named = re.NamedCapturingGroups();
      auto it = named.find(std::string(name));
      idx = it == named.end() ? -1 : it->second;
    }
    if (idx >= 0 && static_cast<size_t>(idx) < groups.size() &&
        groups[idx].data() != nullptr) {
      out.append(groups[idx]);
    }
  }
  out.append(tmpl);
  return out;
}

std::array<uint8_t, 16> Md5(std::string_view data) {
  static constexpr int kShift[64] = {
      7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
      5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20,
      4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
      6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21};
  static const auto* const kTable = [] {
    auto* t = new std::array<uint32_t, 64>;
    for (int i = 0; i < 64; ++i) {
      (*t)[i] = static_cast<uint32_t>(
          std::floor(std::fabs(std::sin(static_cast<long double>(i + 1))) *
                     4294967296.0L));
    }
    return t;
  }();

  std::string msg(data);
  const uint64_t bit_len = static_cast<uint64_t>(data.size()) * 8;
  msg.push_back(static_cast<char>(0x80));
  while (msg.size() % 64 != 56) {
    msg.push_back('\0');
  }
  for (int i = 0; i < 8; ++i) {
    msg.push_back(static_cast<char>((bit_len >> (8 * i)) & 0xff));
  }
  uint32_t a0 = 0x67452301, b0 = 0xefcdab89, c0 = 0x98badcfe,
           d0 = 0x10325476;
  for (size_t off = 0; off < msg.size(); off += 64) {
    uint32_t m[16];
    for (int i = 0; i < 16; ++i) {
      const auto* p =
          reinterpret_cast<const unsigned char*>(msg.data() + off + 4 * i);
      m[i] = uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) |
             (uint32_t{p[3]} << 24);
    }
    uint32_t a = a0, b = b0, c = c0, d = d0;
    for (int i = 0; i < 64; ++i) {
      uint32_t f;
      int g;
      if (i < 16) {
        f = (b & c) | (~b & d);
        g = i;
      } else if (i < 32) {
        f = (d & b) | (~d & c);
        g = (5 * i + 1) % 16;
      } else if (i < 48) {
        f = b ^ c ^ d;
        g = (3 * i + 5) % 16;
      } else {
        f = c ^ (b | ~d);
        g = (7 * i) % 16;
      }
      f = f + a + (*kTable)[i] + m[g];
      a = d;
      d = c;
      c = b;
      b = b + RotL(f, kShift[i]);
    }
    a0 += a;
    b0 += b;
    c0 += c;
    d0 += d;
  }
  std::array<uint8_t, 16> out;
  const uint32_t words[4] = {a0, b0, c0, d0};
  for (int w = 0; w < 4; ++w) {
    for (int i = 0; i < 4; ++i) {
      out[4 * w + i] = static_cast<uint8_t>((words[w] >> (8 * i)) & 0xff);
    }
  }
  return out;
}

}  // namespace vigil::rpc::notifier
