// Subcommand plumbing for the one `docshift` binary (Kudu's tools/tool_main.cc style):
// each subcommand is a Command with the flags it accepts and a Run function that builds an
// Options struct from FLAGS_* and calls into a library, which never reads flags itself.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <utility>
#include <vector>

#include "util/status.h"

namespace docshift::cli {

// Exit codes, documented in README.md. Stable: scripts depend on them.
enum ExitCode : int {
  kExitOk = 0,
  kExitProblemFound = 1,  // ran fine, found a problem (verify found differences, ...)
  kExitUsage = 2,         // bad flags or input: the message names it and the fix
  kExitError = 3,         // runtime failure: IO, server unreachable, lock held, ...
  kExitCorruption = 4,    // bad bytes on disk: the message names file and offset
  kExitNotSupported = 5,  // written by a newer docshift (format version): upgrade docshift
};
int ExitCodeFor(const Status& s);

struct Command {
  std::string name;
  std::string summary;      // one line, for `docshift --help`
  std::string usage;        // synopsis and description, for `docshift NAME --help`
  std::vector<std::string> flags;  // gflags names this command accepts
  // Runs with flags already parsed; returns the exit code.
  int (*run)(const std::vector<std::string>& positional);
  // Non-boolean flags whose value is optional, and the value a bare `--flag` means
  // (`--watch` = `--watch=2`). A bare one never takes the next argument as its value.
  std::vector<std::pair<std::string, std::string>> implicit_values = {};
};

const std::vector<Command>& AllCommands();

// Parses argv (after the subcommand name) against the command's flags: `--name=value`,
// `--name value`, `--flag` / `--noflag` for booleans, `--` ends flags; `--flag-name` is
// `--flag_name`; `--flagfile=FILE` reads more flags from FILE (one `--name=value` a line,
// blank lines and `#` comments skipped), in place. Unknown flags (with the nearest one
// the command has, when one is close) and bad values are InvalidArgument naming the flag.
// Sets *help for -h/--help.
Status ParseCommandFlags(const Command& cmd, int argc, char** argv,
                         std::vector<std::string>* positional, bool* help);
// Levenshtein distance, and the command's flag nearest to name ("" when none is within a
// third of its length, at least 2 edits): for "did you mean".
size_t EditDistance(const std::string& a, const std::string& b);
std::string NearestFlag(const Command& cmd, const std::string& name);
void PrintCommandHelp(const Command& cmd, std::ostream& out);
void PrintTopHelp(std::ostream& out);

// A connection-string flag: the URI itself, env:VAR to read it from the environment, or
// file:PATH to read it from a file (so credentials stay out of `ps`). The file holds one
// line (a trailing newline is dropped), at most kMaxSecretFileBytes, and must be private:
// a file with any group or other permission bit (mode & 077) is refused, naming the path
// and `chmod 600 PATH`. InvalidArgument naming the flag (never the file's content) if
// empty, unset, missing, not private or not one line.
inline constexpr long kMaxSecretFileBytes = 64 * 1024;
StatusOr<std::string> ResolveUriFlag(const std::string& value, const std::string& flag);

// "a,b,,c" → {"a", "b", "c"}: comma-separated flag values.
std::vector<std::string> SplitList(const std::string& s);

// Prints "docshift CMD: message" to stderr, credentials scrubbed (mongo::ScrubCredentials),
// and returns the exit code for s.
int Fail(const std::string& cmd, const Status& s);

}  // namespace docshift::cli
