#include "cli/command.h"

namespace docshift::cli {

Command MakeInspectCommand();
Command MakeCaptureCommand();
Command MakeApplyCommand();
Command MakePruneCommand();
Command MakeSnapshotCommand();
Command MakeVerifyCommand();
Command MakeReconcileCommand();
Command MakeStatusCommand();
Command MakeCutoverCommand();
Command MakeShipCommand();

const std::vector<Command>& AllCommands() {
  static const std::vector<Command>* commands = new std::vector<Command>{
      MakeCaptureCommand(),  MakeSnapshotCommand(), MakeApplyCommand(),
      MakeStatusCommand(),   MakeVerifyCommand(),   MakeCutoverCommand(),
      MakeReconcileCommand(), MakeInspectCommand(),  MakePruneCommand(), MakeShipCommand(),
  };
  return *commands;
}

}  // namespace docshift::cli
