// DynamoDB AttributeValue JSON -> BSON, table-driven, compared as canonical extended JSON.
#include "aws/dynamodb_types.h"

#include <gtest/gtest.h>

#include <string>

namespace docshift::aws {
namespace {

// An owned, initialised bson_t.
struct Bson {
  Bson() { bson_init(&b); }
  ~Bson() { bson_destroy(&b); }
  bson_t* get() { return &b; }
  bson_t b;
};

std::string ToJson(const bson_t* b) {
  char* s = bson_as_canonical_extended_json(b, nullptr);
  std::string out(s);
  bson_free(s);
  return out;
}

// {"v": <conversion of av>} as canonical extended JSON, or "ERROR: <message>".
std::string Convert(const std::string& av_json, NumberMode mode = NumberMode::kDecimal) {
  rapidjson::Document doc;
  doc.Parse(av_json.c_str());
  if (doc.HasParseError()) return "BAD TEST JSON";
  Bson b;
  ConvertOptions opts;
  opts.numbers = mode;
  Status s = AppendAttributeValue(doc, "attr", "v", b.get(), opts);
  if (!s.ok()) return "ERROR: " + s.message();
  return ToJson(b.get());
}

std::string Number(const std::string& n, NumberMode mode = NumberMode::kDecimal) {
  return Convert("{\"N\":\"" + n + "\"}", mode);
}

std::string Item(const std::string& json, const KeySchema& keys, NumberMode mode = NumberMode::kDecimal) {
  Bson b;
  ConvertOptions opts;
  opts.numbers = mode;
  Status s = ItemJsonToBson(json, keys, b.get(), opts);
  if (!s.ok()) return "ERROR: " + s.message();
  return ToJson(b.get());
}

TEST(DynamoNumberTest, OneToThirtyEightDigits) {
  const std::string digits = "12345678901234567890123456789012345678";
  for (size_t n = 1; n <= 38; ++n) {
    std::string v = digits.substr(0, n);
    SCOPED_TRACE(v);
    std::string got = Number(v);
    if (n <= 10) {
      EXPECT_EQ(got, "{ \"v\" : { \"$numberInt\" : \"" + v + "\" } }");
    } else if (n <= 19) {
      EXPECT_EQ(got, "{ \"v\" : { \"$numberLong\" : \"" + v + "\" } }");
    } else if (n <= 34) {
      EXPECT_EQ(got, "{ \"v\" : { \"$numberDecimal\" : \"" + v + "\" } }");
    } else {
      EXPECT_EQ(got, "ERROR: DynamoDB attribute attr: number " + v + " has " + std::to_string(n) +
                         " significant digits, more than the 34 a Decimal128 holds "
                         "(--dynamodb_numbers=string or double stores such numbers)");
    }
    // The same digits as a fraction: 0.123...; never an integer type.
    std::string frac = "0." + v;
    std::string got_frac = Number(frac);
    if (n <= 34) {
      EXPECT_NE(got_frac.find("$numberDecimal"), std::string::npos) << got_frac;
    } else {
      EXPECT_EQ(got_frac.rfind("ERROR: DynamoDB attribute attr: number", 0), 0u) << got_frac;
    }
  }
}

TEST(DynamoNumberTest, Table) {
  struct Case {
    const char* in;
    const char* want;  // The extended JSON of v, or a message prefix after "ERROR: ".
  };
  const Case cases[] = {
      {"0", R"({ "$numberInt" : "0" })"},
      {"-0", R"({ "$numberInt" : "0" })"},
      {"-0.000", R"({ "$numberInt" : "0" })"},
      {"1.5E+3", R"({ "$numberInt" : "1500" })"},
      {"15e2", R"({ "$numberInt" : "1500" })"},
      {"1.0", R"({ "$numberInt" : "1" })"},
      {"-2147483648", R"({ "$numberInt" : "-2147483648" })"},
      {"2147483647", R"({ "$numberInt" : "2147483647" })"},
      {"2147483648", R"({ "$numberLong" : "2147483648" })"},
      {"-9223372036854775808", R"({ "$numberLong" : "-9223372036854775808" })"},
      {"9223372036854775807", R"({ "$numberLong" : "9223372036854775807" })"},
      {"9223372036854775808", R"({ "$numberDecimal" : "9223372036854775808" })"},
      {"1E+30", R"({ "$numberDecimal" : "1000000000000000000000000000000" })"},
      {"1E+40", R"({ "$numberDecimal" : "1E+40" })"},
      {"1.5", R"({ "$numberDecimal" : "1.5" })"},
      {"-1.50", R"({ "$numberDecimal" : "-1.5" })"},
      {"1.5E-3", R"({ "$numberDecimal" : "0.0015" })"},
      {"1E-130", R"({ "$numberDecimal" : "1E-130" })"},
      {"9.999999999999999999999999999999999E+125",  // 34 significant digits: DynamoDB's largest magnitude.
       R"({ "$numberDecimal" : "9.999999999999999999999999999999999E+125" })"},
      {"9.9999999999999999999999999999999999E+125", "ERROR: DynamoDB attribute attr: number"},
      {"1E+999999", "ERROR: DynamoDB attribute attr: number 1E+999999 is out of Decimal128's range"},
      {"1E-999999", "ERROR: DynamoDB attribute attr: number 1E-999999 is out of Decimal128's range"},
      {"", "ERROR: DynamoDB attribute attr: \"\" is not a number"},
      {"-", "ERROR: DynamoDB attribute attr: \"-\" is not a number"},
      {"1e", "ERROR: DynamoDB attribute attr: \"1e\" is not a number"},
      {"1x", "ERROR: DynamoDB attribute attr: \"1x\" is not a number"},
      {"--1", "ERROR: DynamoDB attribute attr: \"--1\" is not a number"},
      {"NaN", "ERROR: DynamoDB attribute attr: \"NaN\" is not a number"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.in);
    std::string got = Number(c.in);
    std::string want = c.want;
    if (want.rfind("ERROR: ", 0) == 0) {
      EXPECT_EQ(got.rfind(want, 0), 0u) << got;
    } else {
      EXPECT_EQ(got, "{ \"v\" : " + want + " }");
    }
  }
}

// The modes change only the numbers no exact type holds: every number Table() converts
// exactly converts the same in each mode.
TEST(DynamoNumberModeTest, ExactNumbersAreTheSameInEveryMode) {
  for (const char* n : {"0", "-0", "1.5E+3", "2147483648", "-9223372036854775808", "9223372036854775808",
                        "1E+40", "-1.50", "1E-130", "9.999999999999999999999999999999999E+125",
                        "1234567890123456789012345678901234"}) {
    SCOPED_TRACE(n);
    const std::string exact = Number(n);
    ASSERT_EQ(exact.find("ERROR"), std::string::npos) << exact;
    EXPECT_EQ(Number(n, NumberMode::kString), exact);
    EXPECT_EQ(Number(n, NumberMode::kDouble), exact);
  }
}

TEST(DynamoNumberModeTest, DecimalRefusesNamingTheAttribute) {
  const std::string n38 = "12345678901234567890123456789012345678";
  EXPECT_EQ(Number(n38), "ERROR: DynamoDB attribute attr: number " + n38 +
                             " has 38 significant digits, more than the 34 a Decimal128 holds "
                             "(--dynamodb_numbers=string or double stores such numbers)");
  EXPECT_EQ(Convert(R"({"M":{"price":{"N":"1.2345678901234567890123456789012345"}}})").rfind(
                "ERROR: DynamoDB attribute attr.price: number 1.2345678901234567890123456789012345 has 35", 0),
            0u);
}

TEST(DynamoNumberModeTest, StringStoresTheCanonicalDecimalText) {
  struct Case {
    const char* in;
    const char* want;
  };
  const Case cases[] = {
      {"12345678901234567890123456789012345678", "12345678901234567890123456789012345678"},
      {"-12345678901234567890123456789012345678", "-12345678901234567890123456789012345678"},
      {"+012345678901234567890123456789012345678.000", "12345678901234567890123456789012345678"},
      {"1.2345678901234567890123456789012345678E+37", "12345678901234567890123456789012345678"},
      {"123456789012345678901234567890123456E+4", "1234567890123456789012345678901234560000"},
      {"123456789012345678901234567890123456E+5", "1.23456789012345678901234567890123456E+40"},
      {"0.12345678901234567890123456789012345678", "0.12345678901234567890123456789012345678"},
      {"1.2345678901234567890123456789012345E-6", "0.0000012345678901234567890123456789012345"},
      {"1.2345678901234567890123456789012345E-7", "1.2345678901234567890123456789012345E-7"},
      {"9.9999999999999999999999999999999999999E+125", "9.9999999999999999999999999999999999999E+125"},
      {"1E+999999", "1E+999999"},
      {"-1E-999999", "-1E-999999"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.in);
    EXPECT_EQ(Number(c.in, NumberMode::kString), std::string("{ \"v\" : \"") + c.want + "\" }");
  }
  // CanonicalNumber on exact numbers too (the same text rules).
  EXPECT_EQ(CanonicalNumber("012.50", "a").value(), "12.5");
  EXPECT_EQ(CanonicalNumber("1.5E+3", "a").value(), "1500");
  EXPECT_EQ(CanonicalNumber("1E-10", "a").value(), "1E-10");
  EXPECT_EQ(CanonicalNumber("-0.000", "a").value(), "0");
  EXPECT_FALSE(CanonicalNumber("1x", "a").ok());
}

// libbson prints a double with %.20g; each value below is Python's float(text), the
// correctly rounded nearest double (1.2345678901234568e+37 in shortest form).
TEST(DynamoNumberModeTest, DoubleStoresTheNearestDouble) {
  EXPECT_EQ(Number("12345678901234567890123456789012345678", NumberMode::kDouble),
            R"({ "v" : { "$numberDouble" : "1.2345678901234567525e+37" } })");
  EXPECT_EQ(Number("-0.12345678901234567890123456789012345678", NumberMode::kDouble),
            R"({ "v" : { "$numberDouble" : "-0.12345678901234567737" } })");
  EXPECT_EQ(Number("9.9999999999999999999999999999999999999E+125", NumberMode::kDouble),
            R"({ "v" : { "$numberDouble" : "9.9999999999999992487e+125" } })");
  // Past a double's range: still an error naming the attribute, never inf or 0.
  EXPECT_EQ(Number("1E+999999", NumberMode::kDouble),
            "ERROR: DynamoDB attribute attr: number 1E+999999 is out of a double's range");
  EXPECT_EQ(Number("1E-999999", NumberMode::kDouble),
            "ERROR: DynamoDB attribute attr: number 1E-999999 is out of a double's range");
}

TEST(DynamoNumberModeTest, SetsKeysAndNestingFollowTheMode) {
  const std::string ns = R"({"NS":["12345678901234567890123456789012345678","3","-1.5"]})";
  EXPECT_EQ(Convert(ns).rfind("ERROR: DynamoDB attribute attr[2]: number 1234567890", 0), 0u) << Convert(ns);
  EXPECT_EQ(Convert(ns, NumberMode::kString),
            R"({ "v" : [ { "$numberDecimal" : "-1.5" }, { "$numberInt" : "3" }, "12345678901234567890123456789012345678" ] })");
  EXPECT_EQ(Convert(ns, NumberMode::kDouble),
            R"({ "v" : [ { "$numberDecimal" : "-1.5" }, { "$numberInt" : "3" }, { "$numberDouble" : "1.2345678901234567525e+37" } ] })");
  // A 38-digit hash key: the _id follows the mode too.
  const std::string item = R"({"pk":{"N":"99999999999999999999999999999999999999"},"m":{"M":{"l":{"L":[{"N":"1"}]}}}})";
  EXPECT_EQ(Item(item, {"pk", ""}).rfind("ERROR: DynamoDB attribute pk: number", 0), 0u);
  EXPECT_EQ(Item(item, {"pk", ""}, NumberMode::kString),
            R"({ "_id" : "99999999999999999999999999999999999999", "pk" : "99999999999999999999999999999999999999", "m" : { "l" : [ { "$numberInt" : "1" } ] } })");
  EXPECT_EQ(Item(item, {"pk", ""}, NumberMode::kDouble),
            R"({ "_id" : { "$numberDouble" : "9.9999999999999997749e+37" }, "pk" : { "$numberDouble" : "9.9999999999999997749e+37" }, "m" : { "l" : [ { "$numberInt" : "1" } ] } })");
}

TEST(DynamoNumberModeTest, Names) {
  for (NumberMode m : {NumberMode::kDecimal, NumberMode::kString, NumberMode::kDouble}) {
    EXPECT_EQ(ParseNumberMode(NumberModeName(m)).value(), m);
  }
  EXPECT_EQ(ParseNumberMode("").value(), NumberMode::kDecimal);
  EXPECT_TRUE(ParseNumberMode("float").status().IsInvalidArgument());
}

TEST(DynamoTypesTest, ScalarsSetsAndNesting) {
  struct Case {
    const char* av;
    const char* want;
  };
  const Case cases[] = {
      {R"({"S":"héllo"})", R"({ "v" : "héllo" })"},
      {R"({"BOOL":true})", R"({ "v" : true })"},
      {R"({"NULL":true})", R"({ "v" : null })"},
      {R"({"B":"AAEC/w=="})", R"({ "v" : { "$binary" : { "base64" : "AAEC/w==", "subType" : "00" } } })"},
      {R"({"SS":["b","a","B",""]})", R"({ "v" : [ "", "B", "a", "b" ] })"},
      {R"({"NS":["10","-2.5","3","1E+2","-100"]})",
       R"({ "v" : [ { "$numberInt" : "-100" }, { "$numberDecimal" : "-2.5" }, { "$numberInt" : "3" }, { "$numberInt" : "10" }, { "$numberInt" : "100" } ] })"},
      {R"({"BS":["Yg==","YQ==","AA=="]})",
       R"({ "v" : [ { "$binary" : { "base64" : "AA==", "subType" : "00" } }, { "$binary" : { "base64" : "YQ==", "subType" : "00" } }, { "$binary" : { "base64" : "Yg==", "subType" : "00" } } ] })"},
      {R"({"M":{"a":{"L":[{"N":"1"},{"M":{"b":{"S":"x"}}},{"L":[]}]},"c":{"M":{}}}})",
       R"({ "v" : { "a" : [ { "$numberInt" : "1" }, { "b" : "x" }, [  ] ], "c" : {  } } })"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.av);
    EXPECT_EQ(Convert(c.av), c.want);
  }
}

TEST(DynamoTypesTest, ErrorsNameTheAttributePath) {
  EXPECT_EQ(Convert(R"({"M":{"a":{"L":[{"S":"x"},{"N":"1.2.3"}]}}})"),
            "ERROR: DynamoDB attribute attr.a[1]: \"1.2.3\" is not a number");
  EXPECT_EQ(Convert(R"({"B":"ab!d"})"),
            "ERROR: DynamoDB attribute attr: invalid base64 character");
  EXPECT_EQ(Convert(R"({"X":"1"})"), "ERROR: DynamoDB attribute attr: unknown AttributeValue type \"X\"");
  EXPECT_EQ(Convert(R"({"S":"a","N":"1"})").rfind("ERROR: DynamoDB attribute attr: not an AttributeValue", 0), 0u);
  EXPECT_EQ(Convert(R"({"NS":["1","x"]})"), "ERROR: DynamoDB attribute attr[1]: \"x\" is not a number");
}

TEST(DynamoItemTest, IdFromKeys) {
  EXPECT_EQ(Item(R"({"name":{"S":"x"},"pk":{"N":"7"}})", {"pk", ""}),
            R"({ "_id" : { "$numberInt" : "7" }, "name" : "x", "pk" : { "$numberInt" : "7" } })");
  EXPECT_EQ(Item(R"({"sk":{"S":"2024"},"pk":{"S":"u1"},"_id":{"S":"old"}})", {"pk", "sk"}),
            R"({ "_id" : { "pk" : "u1", "sk" : "2024" }, "sk" : "2024", "pk" : "u1", "_dynamodb_id" : "old" })");
  EXPECT_EQ(Item(R"({"pk":{"S":"u1"}})", {"pk", "sk"}),
            "ERROR: DynamoDB item has no range key attribute sk");
  EXPECT_EQ(Item(R"({"x":{"S":"u1"}})", {"pk", ""}),
            "ERROR: DynamoDB item has no hash key attribute pk");
  EXPECT_EQ(Item(R"({"pk":)", {"pk", ""}).rfind("ERROR: DynamoDB item JSON at offset", 0), 0u);
}

TEST(Base64Test, DecodesAndRefuses) {
  EXPECT_EQ(Base64Decode("").value(), "");
  EXPECT_EQ(Base64Decode("Zg==").value(), "f");
  EXPECT_EQ(Base64Decode("Zm8=").value(), "fo");
  EXPECT_EQ(Base64Decode("Zm9v").value(), "foo");
  for (const char* bad : {"Zg=", "Z===", "Zg=a", "=Zg=", "Zm9v!A==", "Zg==Zg=="}) {
    EXPECT_FALSE(Base64Decode(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace docshift::aws
