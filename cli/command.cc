#include "cli/command.h"

#include "cli/flag_ranges.h"
#include "mongo/mongo_util.h"

#include <gflags/gflags.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <sstream>

namespace docshift::cli {
namespace {

// Logging flags (glog) every command accepts.
const std::vector<std::string> kGlobalFlags = {"v", "log_dir", "logtostderr", "alsologtostderr",
                                               "minloglevel", "stderrthreshold"};

bool Accepts(const Command& cmd, const std::string& name) {
  return std::find(cmd.flags.begin(), cmd.flags.end(), name) != cmd.flags.end() ||
         std::find(kGlobalFlags.begin(), kGlobalFlags.end(), name) != kGlobalFlags.end();
}

}  // namespace

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

int ExitCodeFor(const Status& s) {
  switch (s.code()) {
    case Status::Code::kOk: return kExitOk;
    case Status::Code::kInvalidArgument:
    case Status::Code::kNotFound: return kExitUsage;
    case Status::Code::kCorruption: return kExitCorruption;
    case Status::Code::kNotSupported: return kExitNotSupported;
    default: return kExitError;
  }
}

StatusOr<std::string> ResolveUriFlag(const std::string& value, const std::string& flag) {
  if (value.empty()) {
    return Status::InvalidArgument(flag + " is required: a connection string like "
                                          "mongodb://host:27017/, or env:VAR");
  }
  if (value.rfind("env:", 0) == 0) {
    const char* v = std::getenv(value.substr(4).c_str());
    if (v == nullptr || *v == '\0') {
      return Status::InvalidArgument(flag + " " + value + ": environment variable " +
                                     value.substr(4) + " is not set");
    }
    return std::string(v);
  }
  return value;
}

int Fail(const std::string& cmd, const Status& s) {
  std::cerr << "docshift " << cmd << ": " << mongo::ScrubCredentials(s.ToString()) << std::endl;
  return ExitCodeFor(s);
}

Status ParseCommandFlags(const Command& cmd, int argc, char** argv,
                         std::vector<std::string>* positional, bool* help) {
  *help = false;
  bool flags_done = false;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (flags_done || arg.size() < 2 || arg[0] != '-') {
      positional->push_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_done = true;
      continue;
    }
    if (arg == "-h" || arg == "--help" || arg == "-help" || arg == "--helpfull") {
      *help = true;
      continue;
    }
    std::string body = arg.substr(arg[1] == '-' ? 2 : 1);
    std::string name = body, value;
    bool has_value = false;
    if (auto eq = body.find('='); eq != std::string::npos) {
      name = body.substr(0, eq);
      value = body.substr(eq + 1);
      has_value = true;
    }
    gflags::CommandLineFlagInfo info;
    bool known = gflags::GetCommandLineFlagInfo(name.c_str(), &info) && Accepts(cmd, name);
    if (!known && !has_value && name.rfind("no", 0) == 0) {
      // --noflag for a boolean
      std::string base = name.substr(2);
      if (gflags::GetCommandLineFlagInfo(base.c_str(), &info) && Accepts(cmd, base) &&
          info.type == "bool") {
        gflags::SetCommandLineOption(base.c_str(), "false");
        continue;
      }
    }
    if (!known) {
      return Status::InvalidArgument("unknown flag --" + name + " for `docshift " + cmd.name +
                                     "`; see `docshift " + cmd.name + " --help`");
    }
    const auto implicit = std::find_if(cmd.implicit_values.begin(), cmd.implicit_values.end(),
                                       [&](const auto& iv) { return iv.first == name; });
    if (!has_value) {
      if (info.type == "bool") {
        value = "true";
      } else if (implicit != cmd.implicit_values.end()) {
        value = implicit->second;
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return Status::InvalidArgument("flag --" + name + " needs a value (" + info.type + ")");
      }
    }
    if (const FlagRange* range = FindFlagRange(cmd.name, name)) {
      RETURN_IF_ERROR(CheckFlagValue(*range, value));
    }
    if (gflags::SetCommandLineOption(name.c_str(), value.c_str()).empty()) {
      return Status::InvalidArgument("invalid value '" + value + "' for --" + name +
                                     " (expected " + info.type + ")");
    }
  }
  return Status::OK();
}

void PrintCommandHelp(const Command& cmd, std::ostream& out) {
  out << cmd.usage << "\n\nFlags:\n";
  for (const auto& name : cmd.flags) {
    gflags::CommandLineFlagInfo info;
    if (!gflags::GetCommandLineFlagInfo(name.c_str(), &info)) continue;
    out << "  --" << name << " (" << info.type << ")";
    if (!info.default_value.empty()) out << "  default: " << info.default_value;
    out << "\n      " << info.description << "\n";
    if (const FlagRange* range = FindFlagRange(cmd.name, name)) {
      out << "      range: " << DescribeRange(*range) << "\n";
    }
  }
  out << "\nLogging: --v=N, --log_dir=DIR (default: log to stderr), --minloglevel=N\n"
      << "Exit codes: 0 ok, 1 ran fine but found a problem, 2 bad usage or input,\n"
      << "            3 runtime error, 4 corruption on disk (file and offset named),\n"
      << "            5 spool written by a newer docshift (upgrade docshift).\n";
}

void PrintTopHelp(std::ostream& out) {
  out << "docshift: live migration of MongoDB-API databases through a durable local spool.\n\n"
      << "Usage: docshift <command> [flags]\n       docshift <command> --help\n\n"
      << "Commands:\n";
  for (const auto& c : AllCommands()) {
    std::string name = c.name;
    name.resize(10, ' ');
    out << "  " << name << c.summary << "\n";
  }
  out << "\nExit codes: 0 ok, 1 ran fine but found a problem, 2 bad usage or input,\n"
      << "            3 runtime error, 4 corruption on disk, 5 spool written by a newer\n"
      << "            docshift.\n";
}

}  // namespace docshift::cli
