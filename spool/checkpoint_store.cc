#include "spool/checkpoint_store.h"

#include <utility>

namespace docshift::spool {
namespace {

class LocalCheckpointStore final : public CheckpointStore {
 public:
  LocalCheckpointStore(Env* env, std::string dir) : env_(env), dir_(std::move(dir)) {}
  std::string Describe() const override { return dir_ + "/checkpoints"; }
  Status Read(const std::string& name, pb::ApplyCheckpoint* out) override {
    return ReadCheckpoint(env_, CheckpointPath(dir_, name), out);
  }
  Status Write(const std::string& name, const pb::ApplyCheckpoint& ckpt) override {
    return WriteCheckpoint(env_, dir_, name, ckpt);
  }
  StatusOr<std::vector<NamedCheckpoint>> List() override { return ListCheckpoints(env_, dir_); }

 private:
  Env* env_;
  std::string dir_;
};

}  // namespace

std::unique_ptr<CheckpointStore> NewLocalCheckpointStore(Env* env, std::string spool_dir) {
  return std::make_unique<LocalCheckpointStore>(env, std::move(spool_dir));
}

}  // namespace docshift::spool
