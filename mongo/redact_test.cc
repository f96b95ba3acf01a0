// Credentials in connection strings never reach a message, a log line or `ps`: the
// userinfo password and every credential-bearing option, matched case-insensitively.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mongo/mongo_util.h"

namespace docshift::mongo {
namespace {

TEST(RedactUriTest, UserinfoPassword) {
  EXPECT_EQ(RedactUri("mongodb://u:s3cret@h:27017/?replicaSet=rs0"),
            "mongodb://u:***@h:27017/?replicaSet=rs0");
  EXPECT_EQ(RedactUri("mongodb+srv://u:s3cret@cluster.example.net/db"),
            "mongodb+srv://u:***@cluster.example.net/db");
  // An '@' or ':' inside the password (unencoded) is still inside the masked part.
  EXPECT_EQ(RedactUri("mongodb://u:p@ss:w@h1,h2:27018/"), "mongodb://u:***@h1,h2:27018/");
  // No password, nothing to hide.
  EXPECT_EQ(RedactUri("mongodb://u@h/"), "mongodb://u@h/");
  EXPECT_EQ(RedactUri("mongodb://h:27017/?w=majority"), "mongodb://h:27017/?w=majority");
  EXPECT_EQ(RedactUri("not-a-uri"), "not-a-uri");
}

TEST(RedactUriTest, EveryCredentialOptionAnyCase) {
  for (const char* const* opt = kCredentialOptions; *opt != nullptr; ++opt) {
    std::string lower = *opt, upper = *opt;
    for (char& c : lower) c = static_cast<char>(std::tolower(c));
    for (char& c : upper) c = static_cast<char>(std::toupper(c));
    for (const std::string& name : {std::string(*opt), lower, upper}) {
      const std::string uri = "mongodb://h:27017/?tls=true&" + name + "=TOPSECRET-1&appName=x";
      EXPECT_EQ(RedactUri(uri), "mongodb://h:27017/?tls=true&" + name + "=***&appName=x") << uri;
      const std::string first = "mongodb://h/?" + name + "=TOPSECRET-1";
      EXPECT_EQ(RedactUri(first), "mongodb://h/?" + name + "=***") << first;
    }
  }
}

TEST(RedactUriTest, NamedOptionsAndAwsSessionToken) {
  const std::string uri =
      "mongodb://AKIAEXAMPLE:aws-secret-key@h/?authMechanism=MONGODB-AWS&authSource=$external"
      "&authMechanismProperties=AWS_SESSION_TOKEN:FwoGZXIvYXdzE+/abc==";
  const std::string r = RedactUri(uri);
  EXPECT_EQ(r, "mongodb://AKIAEXAMPLE:***@h/?authMechanism=MONGODB-AWS&authSource=$external"
               "&authMechanismProperties=***");
  for (const char* s : {"aws-secret-key", "FwoGZXIvYXdzE", "AWS_SESSION_TOKEN"}) {
    EXPECT_EQ(r.find(s), std::string::npos) << s;
  }
  EXPECT_EQ(RedactUri("mongodb://h/?tlsCertificateKeyFilePassword=k1&sslClientCertificateKeyPassword=k2"),
            "mongodb://h/?tlsCertificateKeyFilePassword=***&sslClientCertificateKeyPassword=***");
  // A longer option whose name merely ends in a credential option's name is left alone.
  EXPECT_EQ(RedactUri("mongodb://h/?xauthMechanismProperties=v"),
            "mongodb://h/?xauthMechanismProperties=v");
}

TEST(ScrubCredentialsTest, MessagesThatEchoAUriOrAnOption) {
  EXPECT_EQ(ScrubCredentials("source mongodb://u:pw1@h:9/?tlsCertificateKeyFilePassword=pw2 is "
                             "not reachable: No suitable servers"),
            "source mongodb://u:***@h:9/?tlsCertificateKeyFilePassword=*** is not reachable: No "
            "suitable servers");
  // libmongoc lowercases option names and quotes values in its own messages.
  EXPECT_EQ(ScrubCredentials("Unsupported value for \"authmechanismproperties\": \"AWS_SESSION_TOKEN:t0k\""),
            "Unsupported value for \"authmechanismproperties\": \"***\"");
  EXPECT_EQ(ScrubCredentials("bad option 'sslclientcertificatekeypassword=pw3'"),
            "bad option 'sslclientcertificatekeypassword=***'");
  EXPECT_EQ(ScrubCredentials("two: 'mongodb://a:x1@h/' and 'mongodb://b:x2@k/'"),
            "two: 'mongodb://a:***@h/' and 'mongodb://b:***@k/'");
  EXPECT_EQ(ScrubCredentials("plain text, http://h:9464/metrics"), "plain text, http://h:9464/metrics");
}

TEST(ScrubCredentialsTest, InPlaceKeepsTheLength) {
  std::vector<std::string> args = {
      "--source=mongodb://u:pw1@h/?authMechanismProperties=AWS_SESSION_TOKEN:tok&w=1",
      "mongodb://h/?TLSCERTIFICATEKEYFILEPASSWORD=pw2", "--lanes", "4"};
  for (std::string& a : args) {
    const size_t n = a.size();
    ScrubCredentialsInPlace(a.data());
    EXPECT_EQ(a.size(), n);
  }
  EXPECT_EQ(args[0], "--source=mongodb://u:xxx@h/?authMechanismProperties=xxxxxxxxxxxxxxxxxxxxx&w=1");
  EXPECT_EQ(args[1], "mongodb://h/?TLSCERTIFICATEKEYFILEPASSWORD=xxx");
  EXPECT_EQ(args[2], "--lanes");
}

TEST(ParseUriTest, ErrorsNeverEchoCredentials) {
  auto r = ParseUri("mongodb://u:pw-SECRET@h/?tlsCertificateKeyFilePassword=TLS-SECRET&"
                    "sslClientCertificateKeyPassword=SSL-SECRET",
                    "--source");
  ASSERT_FALSE(r.ok());  // libmongoc refuses both spellings at once
  EXPECT_TRUE(r.status().IsInvalidArgument());
  for (const char* s : {"pw-SECRET", "TLS-SECRET", "SSL-SECRET", "tls-secret", "ssl-secret"}) {
    EXPECT_EQ(r.status().message().find(s), std::string::npos) << r.status().ToString();
  }
  auto bad = ParseUri("mongodb://h/?authMechanism=MONGODB-AWS&authMechanismProperties=BROKEN-t0k3n",
                      "--target");
  if (!bad.ok()) EXPECT_EQ(bad.status().message().find("t0k3n"), std::string::npos) << bad.status().ToString();
}

}  // namespace
}  // namespace docshift::mongo
