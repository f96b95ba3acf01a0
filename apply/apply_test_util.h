// Helpers shared by apply's unit tests (not linked into the library).
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "mongo/mongo_util.h"

namespace docshift::apply::test_util {

// BSON bytes of a JSON document (Extended JSON); a test failure if it does not parse.
inline std::string B(const char* json) {
  auto b = mongo::FromJson(json);
  EXPECT_TRUE(b) << json;
  return b ? mongo::Bytes(b.get()) : std::string();
}

}  // namespace docshift::apply::test_util
