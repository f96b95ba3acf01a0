#include "cli/command.h"

namespace docshift::cli {

Command MakeInspectCommand();
Command MakeCaptureCommand();
Command MakeApplyCommand();
Command MakePruneCommand();
Command MakeSnapshotCommand();
Command MakeVerifyCommand();
Command MakeReconcileCommand();

namespace {

// Commands whose implementation has not landed yet. They exist so that `--help` shows the
// whole tool, and say plainly that they do nothing yet.
int NotYet(const std::string& name, const std::string& issue) {
  return Fail(name, Status::Internal("not implemented in this build yet (tracked in " + issue +
                                     "); nothing was done"));
}
int RunStatus(const std::vector<std::string>&) { return NotYet("status", "issue #5"); }

}  // namespace

const std::vector<Command>& AllCommands() {
  static const std::vector<Command>* commands = new std::vector<Command>{
      MakeCaptureCommand(),
      MakeApplyCommand(),
      MakeSnapshotCommand(),
      MakeVerifyCommand(),
      MakeReconcileCommand(),
      Command{"status", "[not implemented yet] migration status and lag",
              "Usage: docshift status --spool DIR\n\nNot implemented yet.", {}, &RunStatus},
      MakeInspectCommand(),
      MakePruneCommand(),
  };
  return *commands;
}

}  // namespace docshift::cli
