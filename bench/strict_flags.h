// Command-line parsing for the bench tools that tells bad arguments apart.
//
// gflags::ParseCommandLineFlags exits the process with status 1 on an unknown flag or a
// bad value, which a script cannot tell from a runtime failure. ParseFlagsStrict sets the
// registered gflags itself (through gflags::SetCommandLineOption, so types and validators
// are checked as usual) and returns the problem instead, so main can exit 2.
//
// Accepts --name=value, --name value, -name..., --name / --noname for bools, and "--"
// (after which nothing may follow). Positional arguments are refused.
#pragma once

#include <string>

namespace docshift::bench {

enum class FlagParse { kOk, kHelp, kError };

// On kError, *error says which argument is wrong. On kHelp the caller prints usage.
FlagParse ParseFlagsStrict(int argc, char** argv, std::string* error);

// Prints "usage" and the flags defined in files whose path contains `file_substring`.
void PrintUsage(const char* usage, const char* file_substring);

// The start of a bench tool's main: ParseFlagsStrict, then on --help PrintUsage and 0, on
// a bad argument "PROG: error" on stderr and 2; -1 when main should go on.
int ParseFlagsOrExitCode(int argc, char** argv, const char* prog, const char* usage,
                         const char* file_substring);

}  // namespace docshift::bench
