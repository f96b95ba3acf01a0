// The namespace filter every command shares (capture discovery and its writer, snapshot,
// verify, reconcile), as a table: pure code, no server.
#include "mongo/namespaces.h"

#include <gtest/gtest.h>

namespace docshift::mongo {
namespace {

struct Case {
  std::vector<std::string> include, exclude;
  std::string db, coll;  // coll empty: the database-level question
  bool selected;
};

TEST(NamespaceFilterTest, Table) {
  const std::vector<Case> cases = {
      // No include: everything but system namespaces.
      {{}, {}, "shop", "orders", true},
      {{}, {}, "shop", "", true},
      {{}, {}, "admin", "x", false},
      {{}, {}, "local", "oplog.rs", false},
      {{}, {}, "config", "", false},
      {{}, {}, "shop", "system.views", false},
      {{"*"}, {}, "shop", "orders", true},
      {{"*"}, {}, "shop", "", true},
      {{"*"}, {}, "admin", "", false},
      // db.*
      {{"shop.*"}, {}, "shop", "orders", true},
      {{"shop.*"}, {}, "shop", "", true},
      {{"shop.*"}, {}, "shopx", "", false},
      {{"shop.*"}, {}, "shopx", "orders", false},
      {{"shop.*"}, {}, "shop", "system.js", false},
      // A leading wildcard (issue #11: selected nothing at the database level).
      {{"*.orders"}, {}, "shop", "", true},
      {{"*.orders"}, {}, "shop", "orders", true},
      {{"*.orders"}, {}, "shop", "users", false},
      {{"*.orders"}, {}, "admin", "orders", false},
      {{"s*.orders"}, {}, "shop", "", true},
      {{"s*.orders"}, {}, "web", "", false},
      // ? and brackets.
      {{"s?op.o*"}, {}, "shop", "", true},
      {{"s?op.o*"}, {}, "shop", "orders", true},
      {{"s?op.o*"}, {}, "shop", "users", false},
      {{"s?op.o*"}, {}, "sop", "", false},
      {{"[st]hop.x"}, {}, "thop", "", true},
      {{"[st]hop.x"}, {}, "whop", "", false},
      // A '*' that spans the dot.
      {{"a*b"}, {}, "ax", "", true},
      {{"a*b"}, {}, "ax", "yb", true},
      {{"a*b"}, {}, "bx", "", false},
      // Several includes; excludes apply to collections.
      {{"shop.orders", "web.*"}, {}, "web", "", true},
      {{"shop.orders", "web.*"}, {}, "crm", "", false},
      {{"shop.*"}, {"shop.tmp*"}, "shop", "tmp1", false},
      {{"shop.*"}, {"shop.tmp*"}, "shop", "orders", true},
      {{"shop.*"}, {"*.orders"}, "shop", "orders", false},
      {{}, {"*.orders"}, "shop", "orders", false},
      {{}, {"*.orders"}, "shop", "", true},
      // An escaped wildcard is literal.
      {{"sh\\*p.x"}, {}, "sh*p", "", true},
      {{"sh\\*p.x"}, {}, "shop", "", false},
  };
  for (const auto& c : cases) {
    NamespaceFilter f;
    f.include = c.include;
    f.exclude = c.exclude;
    std::string desc = "include [";
    for (const auto& g : c.include) desc += g + " ";
    desc += "] exclude [";
    for (const auto& g : c.exclude) desc += g + " ";
    desc += "] on " + c.db + (c.coll.empty() ? " (database)" : "." + c.coll);
    EXPECT_EQ(f.Selected(c.db, c.coll), c.selected) << desc;
  }
}

}  // namespace
}  // namespace docshift::mongo
