#include "cli/command.h"

#include "cli/flag_ranges.h"
#include "mongo/mongo_util.h"

#include <gflags/gflags.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
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

// --flagfile nesting bound (a file naming itself).
constexpr int kMaxFlagfileDepth = 8;

}  // namespace

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string NearestFlag(const Command& cmd, const std::string& name) {
  std::string best;
  size_t best_d = std::max<size_t>(2, name.size() / 3) + 1;  // at most a third of it wrong
  for (const auto& f : cmd.flags) {
    const size_t d = EditDistance(name, f);
    if (d < best_d) {
      best_d = d;
      best = f;
    }
  }
  return best;
}

StatusOr<std::vector<std::string>> ReadFlagfile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument("--flagfile " + path + ": cannot open it");
  std::vector<std::string> args;
  std::string line;
  while (std::getline(in, line)) {
    const size_t b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos || line[b] == '#') continue;
    const size_t e = line.find_last_not_of(" \t\r");
    line = line.substr(b, e - b + 1);
    if (line[0] != '-') {
      return Status::InvalidArgument("--flagfile " + path + ": '" + mongo::ScrubCredentials(line) +
                                     "' is not a flag; write one --name=value a line");
    }
    args.push_back(line);
  }
  return args;
}

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

namespace {

// The connection string in a file:PATH secret: opened, then checked by fstat (the file
// read is the file checked), private (no group or other bits), one line. Never echoes
// the content.
StatusOr<std::string> ReadSecretFile(const std::string& path, const std::string& flag) {
  const std::string what = flag + " file:" + path;
  if (path.empty()) return Status::InvalidArgument(flag + " file:: no path; write file:/path/to/uri-file");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    const int e = errno;
    return Status::InvalidArgument(what + ": cannot open " + path + " (" + std::strerror(e) +
                                   "); write the connection string into it, one line, and chmod 600 " + path);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::InvalidArgument(what + ": " + path + " is not a regular file; give a file holding the connection string");
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Status::InvalidArgument(what + ": " + path + " has mode " + mode +
                                   ": other users may read it, and it holds credentials; chmod 600 " + path);
  }
  if (st.st_size > kMaxSecretFileBytes) {
    ::close(fd);
    return Status::InvalidArgument(what + ": " + path + " is " + std::to_string(st.st_size) +
                                   " bytes; it should hold one connection string (at most " +
                                   std::to_string(kMaxSecretFileBytes) + ")");
  }
  std::string text(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  text.resize(got);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (text.empty()) {
    return Status::InvalidArgument(what + ": " + path + " is empty; write the connection string into it");
  }
  if (text.find('\n') != std::string::npos) {
    return Status::InvalidArgument(what + ": " + path + " holds more than one line; write only the connection string");
  }
  return text;
}

}  // namespace

StatusOr<std::string> ResolveUriFlag(const std::string& value, const std::string& flag) {
  if (value.empty()) {
    return Status::InvalidArgument(flag + " is required: a connection string like "
                                          "mongodb://host:27017/, env:VAR or file:PATH");
  }
  if (value.rfind("env:", 0) == 0) {
    const char* v = std::getenv(value.substr(4).c_str());
    if (v == nullptr || *v == '\0') {
      return Status::InvalidArgument(flag + " " + value + ": environment variable " +
                                     value.substr(4) + " is not set");
    }
    return std::string(v);
  }
  if (value.rfind("file:", 0) == 0) return ReadSecretFile(value.substr(5), flag);
  return value;
}

int Fail(const std::string& cmd, const Status& s) {
  std::cerr << "docshift " << cmd << ": " << mongo::ScrubCredentials(s.ToString()) << std::endl;
  return ExitCodeFor(s);
}

namespace {

Status ParseFlagArgs(const Command& cmd, const std::vector<std::string>& args, int depth,
                     std::vector<std::string>* positional, bool* help) {
  const int argc = static_cast<int>(args.size());
  bool flags_done = false;
  for (int i = 0; i < argc; ++i) {
    std::string arg = args[i];
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
    // --flag-name is --flag_name (the names are snake_case).
    std::replace(name.begin(), name.end(), '-', '_');
    if (name == "flagfile") {
      if (!has_value) {
        if (i + 1 >= argc) return Status::InvalidArgument("flag --flagfile needs a file name");
        value = args[++i];
      }
      if (depth >= kMaxFlagfileDepth) {
        return Status::InvalidArgument("--flagfile " + value + ": flag files nest more than " +
                                       std::to_string(kMaxFlagfileDepth) + " deep (a file that names itself?)");
      }
      ASSIGN_OR_RETURN(std::vector<std::string> more, ReadFlagfile(value));
      RETURN_IF_ERROR(ParseFlagArgs(cmd, more, depth + 1, positional, help));
      continue;
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
      const std::string near = NearestFlag(cmd, name);
      return Status::InvalidArgument("unknown flag --" + name + " for `docshift " + cmd.name + "`; " +
                                     (near.empty() ? "" : "did you mean --" + near + "? ") + "see `docshift " +
                                     cmd.name + " --help`");
    }
    const auto implicit = std::find_if(cmd.implicit_values.begin(), cmd.implicit_values.end(),
                                       [&](const auto& iv) { return iv.first == name; });
    if (!has_value) {
      if (info.type == "bool") {
        value = "true";
      } else if (implicit != cmd.implicit_values.end()) {
        value = implicit->second;
      } else if (i + 1 < argc) {
        value = args[++i];
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

}  // namespace

Status ParseCommandFlags(const Command& cmd, int argc, char** argv,
                         std::vector<std::string>* positional, bool* help) {
  *help = false;
  return ParseFlagArgs(cmd, std::vector<std::string>(argv, argv + argc), 0, positional, help);
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
  out << "\nFlags are written --flag_name or --flag-name, --flag=value or --flag value;\n"
      << "--flagfile=FILE reads more of them from FILE, one --name=value a line ('#' comments).\n"
      << "\nLogging: --v=N, --log_dir=DIR (default: log to stderr), --minloglevel=N\n"
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
