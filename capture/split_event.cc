#include "capture/split_event.h"

#include <cstring>
#include <string>

namespace docshift::capture {
namespace {

bool SplitInfo(const bson_t* doc, int32_t* fragment, int32_t* of) {
  bson_iter_t it, f;
  if (!bson_iter_init_find(&it, doc, "splitEvent") || !BSON_ITER_HOLDS_DOCUMENT(&it)) return false;
  bson_iter_t sub = it;
  if (!bson_iter_recurse(&sub, &f)) return false;
  *fragment = *of = 0;
  while (bson_iter_next(&f)) {
    if (std::strcmp(bson_iter_key(&f), "fragment") == 0) *fragment = bson_iter_as_int64(&f);
    if (std::strcmp(bson_iter_key(&f), "of") == 0) *of = bson_iter_as_int64(&f);
  }
  return true;
}

}  // namespace

bool SplitEventAssembler::IsFragment(const bson_t* doc) {
  bson_iter_t it;
  return bson_iter_init_find(&it, doc, "splitEvent");
}

Status SplitEventAssembler::Add(const bson_t* fragment, mongo::BsonPtr* whole) {
  whole->reset();
  int32_t i = 0, of = 0;
  if (!SplitInfo(fragment, &i, &of) || of < 1 || i < 1 || i > of) {
    next_ = 1;
    merged_.reset();
    return Status::InvalidArgument("a split change event's splitEvent is malformed: " + mongo::ToJson(fragment));
  }
  if (i != next_ || (next_ > 1 && of != of_)) {
    const std::string want = std::to_string(next_) + (next_ > 1 ? " of " + std::to_string(of_) : "");
    next_ = 1;
    merged_.reset();
    return Status::InvalidArgument("split change event: fragment " + std::to_string(i) + " of " +
                                   std::to_string(of) + " arrived where fragment " + want +
                                   " was expected");
  }
  if (i == 1) {
    merged_.reset(bson_new());
    of_ = of;
  }
  bson_iter_t it;
  if (!bson_iter_init(&it, fragment)) return Status::InvalidArgument("a split change event fragment is not valid BSON");
  while (bson_iter_next(&it)) {
    const char* key = bson_iter_key(&it);
    if (std::strcmp(key, "splitEvent") == 0) continue;
    if (std::strcmp(key, "_id") == 0 && i != of) continue;  // the whole event resumes after the last
    bson_append_iter(merged_.get(), key, -1, &it);
  }
  if (i == of) {
    *whole = std::move(merged_);
    next_ = 1;
    of_ = 0;
  } else {
    ++next_;
  }
  return Status::OK();
}

}  // namespace docshift::capture
