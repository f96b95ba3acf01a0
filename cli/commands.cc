#include "cli/command.h"

namespace docshift::cli {

Command MakeInspectCommand();
Command MakeCaptureCommand();
Command MakeApplyCommand();
Command MakePruneCommand();
Command MakeStatusCommand();

namespace {

// Commands whose implementation has not landed yet. They exist so that `--help` shows the
// whole tool, and say plainly that they do nothing yet.
int NotYet(const std::string& name, const std::string& issue) {
  return Fail(name, Status::Internal("not implemented in this build yet (tracked in " + issue +
                                     "); nothing was done"));
}
int RunSnapshot(const std::vector<std::string>&) { return NotYet("snapshot", "issue #5"); }
int RunVerify(const std::vector<std::string>&) { return NotYet("verify", "issue #5"); }

}  // namespace

const std::vector<Command>& AllCommands() {
  static const std::vector<Command>* commands = new std::vector<Command>{
      MakeCaptureCommand(),
      MakeApplyCommand(),
      Command{"snapshot", "[not implemented yet] initial load coordinated with capture",
              "Usage: docshift snapshot --source URI --target URI --spool DIR\n\nNot "
              "implemented yet.",
              {}, &RunSnapshot},
      Command{"verify", "[not implemented yet] compare source and target",
              "Usage: docshift verify --source URI --target URI\n\nNot implemented yet.", {},
              &RunVerify},
      MakeStatusCommand(),
      MakeInspectCommand(),
      MakePruneCommand(),
  };
  return *commands;
}

}  // namespace docshift::cli
