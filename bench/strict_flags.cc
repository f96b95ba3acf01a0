#include "bench/strict_flags.h"

#include <gflags/gflags.h>

#include <cstdio>
#include <string_view>
#include <vector>

namespace docshift::bench {

FlagParse ParseFlagsStrict(int argc, char** argv, std::string* error) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--") {
      if (i + 1 < argc) {
        *error = std::string("unexpected argument '") + argv[i + 1] + "'";
        return FlagParse::kError;
      }
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      *error = "unexpected argument '" + std::string(arg) + "' (flags look like --name=value)";
      return FlagParse::kError;
    }
    arg.remove_prefix(arg[1] == '-' ? 2 : 1);
    std::string name(arg.substr(0, arg.find('=')));
    const bool has_value = arg.find('=') != std::string_view::npos;
    std::string value = has_value ? std::string(arg.substr(arg.find('=') + 1)) : "";
    if (name == "help" || name == "helpshort" || name == "helpfull" || name == "h") {
      return FlagParse::kHelp;
    }
    gflags::CommandLineFlagInfo info;
    if (!gflags::GetCommandLineFlagInfo(name.c_str(), &info)) {
      if (!has_value && name.rfind("no", 0) == 0 &&
          gflags::GetCommandLineFlagInfo(name.c_str() + 2, &info) && info.type == "bool") {
        name = name.substr(2);
        value = "false";
      } else {
        *error = "unknown flag --" + name + " (see --help)";
        return FlagParse::kError;
      }
    } else if (!has_value) {
      if (info.type == "bool") {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        *error = "flag --" + name + " needs a value";
        return FlagParse::kError;
      }
    }
    if (gflags::SetCommandLineOption(name.c_str(), value.c_str()).empty()) {
      *error = "bad value '" + value + "' for --" + name + " (expects " + info.type + ")";
      return FlagParse::kError;
    }
  }
  return FlagParse::kOk;
}

void PrintUsage(const char* usage, const char* file_substring) {
  std::printf("%s\n\nFlags:\n", usage);
  std::vector<gflags::CommandLineFlagInfo> flags;
  gflags::GetAllFlags(&flags);
  for (const auto& f : flags) {
    if (f.filename.find(file_substring) == std::string::npos) continue;
    std::printf("  --%s (%s) default: %s\n      %s\n", f.name.c_str(), f.type.c_str(),
                f.type == "string" ? ("\"" + f.default_value + "\"").c_str()
                                   : f.default_value.c_str(),
                f.description.c_str());
  }
}

int ParseFlagsOrExitCode(int argc, char** argv, const char* prog, const char* usage,
                         const char* file_substring) {
  std::string error;
  switch (ParseFlagsStrict(argc, argv, &error)) {
    case FlagParse::kHelp:
      PrintUsage(usage, file_substring);
      return 0;
    case FlagParse::kError:
      std::fprintf(stderr, "%s: %s\n", prog, error.c_str());
      return 2;
    case FlagParse::kOk:
      break;
  }
  return -1;
}

}  // namespace docshift::bench
