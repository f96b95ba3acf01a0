// Credentials, region and endpoint resolution by the AWS conventions, on a fake
// environment (MapEnv) and profile files in a temporary directory.
#include "aws/credentials.h"

#include <gtest/gtest.h>

#include "util/test_util.h"

namespace docshift::aws {
namespace {

constexpr char kSecret[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

class CredentialsTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& name, const std::string& text) {
    std::string p = dir_.path() + "/" + name;
    test_util::WriteBytes(p, text);
    return p;
  }
  // An environment whose HOME is the temp dir, plus `vars`.
  EnvLookup Env(std::map<std::string, std::string> vars) {
    vars.emplace("HOME", dir_.path());
    return MapEnv(std::move(vars));
  }
  void WriteHomeFiles(const std::string& credentials, const std::string& config) {
    std::filesystem::create_directories(dir_.path() + "/.aws");
    if (!credentials.empty()) Write(".aws/credentials", credentials);
    if (!config.empty()) Write(".aws/config", config);
  }
  test_util::TempDir dir_{"docshift_aws_creds"};
};

void ExpectNoSecret(const Status& s) {
  EXPECT_EQ(s.message().find(kSecret), std::string::npos) << s.ToString();
  EXPECT_EQ(s.message().find("SECRETTOKEN"), std::string::npos) << s.ToString();
}

TEST_F(CredentialsTest, EnvironmentWinsOverProfiles) {
  WriteHomeFiles("[default]\naws_access_key_id = FILEKEY\naws_secret_access_key = filesecret\n", "");
  auto c = LoadCredentials(Env({{"AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"},
                                {"AWS_SECRET_ACCESS_KEY", kSecret},
                                {"AWS_SESSION_TOKEN", "SECRETTOKEN"}}));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->access_key_id, "AKIDEXAMPLE");
  EXPECT_EQ(c->secret_access_key, kSecret);
  EXPECT_EQ(c->session_token, "SECRETTOKEN");
  EXPECT_EQ(c->Redacted(), "access key AKID…MPLE from environment, with session token");
}

TEST_F(CredentialsTest, HalfSetEnvironmentIsRefused) {
  auto c = LoadCredentials(Env({{"AWS_SECRET_ACCESS_KEY", kSecret}}));
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(c.status().IsInvalidArgument());
  EXPECT_EQ(c.status().message(),
            "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not: set both, or unset both "
            "to use a profile");
  ExpectNoSecret(c.status());
  auto d = LoadCredentials(Env({{"AWS_ACCESS_KEY_ID", "AKID"}, {"AWS_SECRET_ACCESS_KEY", ""}}));
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("AWS_SECRET_ACCESS_KEY is not"), std::string::npos);
}

TEST_F(CredentialsTest, DefaultProfileFromSharedCredentialsFile) {
  WriteHomeFiles(
      "# comment\n[other]\naws_access_key_id=OTHER\naws_secret_access_key=x\n"
      "[default]\r\nAWS_ACCESS_KEY_ID = AKIDDEFAULT1 \r\naws_secret_access_key=" +
          std::string(kSecret) + "\r\n",
      "");
  auto c = LoadCredentials(Env({}));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->access_key_id, "AKIDDEFAULT1");
  EXPECT_EQ(c->secret_access_key, kSecret);
  EXPECT_EQ(c->session_token, "");
  EXPECT_EQ(c->Redacted().find(kSecret), std::string::npos);
  EXPECT_NE(c->Redacted().find("profile 'default'"), std::string::npos) << c->Redacted();
}

TEST_F(CredentialsTest, NamedProfileAndExplicitFiles) {
  std::string cred = Write("creds", "[default]\naws_access_key_id=D\naws_secret_access_key=d\n"
                                    "[prod]\naws_access_key_id=PROD\naws_secret_access_key=p\n"
                                    "aws_session_token=SECRETTOKEN\n");
  auto c = LoadCredentials(Env({{"AWS_PROFILE", "prod"}, {"AWS_SHARED_CREDENTIALS_FILE", cred}}));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->access_key_id, "PROD");
  EXPECT_EQ(c->session_token, "SECRETTOKEN");
}

TEST_F(CredentialsTest, KeysInConfigFileProfileSection) {
  std::string config = Write("config", "[profile dev]\nregion = eu-west-3\n"
                                       "aws_access_key_id = DEV\naws_secret_access_key = dv\n"
                                       "s3 =\n  max_concurrent_requests = 20\n");
  auto env = Env({{"AWS_PROFILE", "dev"}, {"AWS_CONFIG_FILE", config}});
  auto c = LoadCredentials(env);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->access_key_id, "DEV");
  auto r = ResolveRegion(env, "");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, "eu-west-3");
}

TEST_F(CredentialsTest, ClearErrors) {
  // Nothing anywhere.
  auto none = LoadCredentials(Env({}));
  ASSERT_FALSE(none.ok());
  EXPECT_TRUE(none.status().IsInvalidArgument());
  EXPECT_NE(none.status().message().find("no AWS credentials"), std::string::npos);

  // A named profile that does not exist.
  WriteHomeFiles("[default]\naws_access_key_id=D\naws_secret_access_key=" + std::string(kSecret) +
                     "\n",
                 "");
  auto missing = LoadCredentials(Env({{"AWS_PROFILE", "nope"}}));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("AWS profile 'nope' (AWS_PROFILE) not found"),
            std::string::npos)
      << missing.status().ToString();
  ExpectNoSecret(missing.status());

  // A key without its secret.
  WriteHomeFiles("[half]\naws_access_key_id=HALF\n", "");
  auto half = LoadCredentials(Env({{"AWS_PROFILE", "half"}}));
  ASSERT_FALSE(half.ok());
  EXPECT_NE(half.status().message().find("has aws_access_key_id but no aws_secret_access_key"),
            std::string::npos)
      << half.status().ToString();

  // Role assumption is not supported, and says so.
  WriteHomeFiles("", "[profile role]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = default\n");
  auto role = LoadCredentials(Env({{"AWS_PROFILE", "role"}}));
  ASSERT_FALSE(role.ok());
  EXPECT_TRUE(role.status().IsNotSupported()) << role.status().ToString();
  EXPECT_NE(role.status().message().find("role_arn"), std::string::npos);

  // A profile with only a region.
  WriteHomeFiles("", "[profile regiononly]\nregion = us-west-2\n");
  auto region_only = LoadCredentials(Env({{"AWS_PROFILE", "regiononly"}}));
  ASSERT_FALSE(region_only.ok());
  EXPECT_NE(region_only.status().message().find("has no aws_access_key_id"), std::string::npos)
      << region_only.status().ToString();
}

TEST_F(CredentialsTest, RegionOrder) {
  WriteHomeFiles("", "[default]\nregion = ap-south-1\n");
  EXPECT_EQ(ResolveRegion(Env({{"AWS_REGION", "us-east-2"}}), "eu-north-1").value(), "eu-north-1");
  EXPECT_EQ(ResolveRegion(Env({{"AWS_REGION", "us-east-2"}, {"AWS_DEFAULT_REGION", "x"}}), "")
                .value(),
            "us-east-2");
  EXPECT_EQ(ResolveRegion(Env({{"AWS_DEFAULT_REGION", "ca-central-1"}}), "").value(), "ca-central-1");
  EXPECT_EQ(ResolveRegion(Env({}), "").value(), "ap-south-1");
  auto none = ResolveRegion(MapEnv({{"HOME", dir_.path() + "/nowhere"}}), "");
  ASSERT_FALSE(none.ok());
  EXPECT_TRUE(none.status().IsInvalidArgument());
  EXPECT_NE(none.status().message().find("no AWS region"), std::string::npos);
}

TEST_F(CredentialsTest, Endpoints) {
  auto env = Env({{"AWS_ENDPOINT_URL", "http://localhost:4566"},
                  {"AWS_ENDPOINT_URL_DYNAMODB", "http://localhost:5000"},
                  {"AWS_ENDPOINT_URL_DYNAMODB_STREAMS", "http://localhost:5001"}});
  EXPECT_EQ(ResolveEndpoint(env, "DYNAMODB").value_or(""), "http://localhost:5000");
  EXPECT_EQ(ResolveEndpoint(env, "DYNAMODB_STREAMS").value_or(""), "http://localhost:5001");
  EXPECT_EQ(ResolveEndpoint(env, "S3").value_or(""), "http://localhost:4566");
  EXPECT_FALSE(ResolveEndpoint(Env({}), "S3").has_value());
}

TEST(IniTest, SectionsKeysAndSubKeys) {
  IniFile ini = ParseIni("top=ignored\n[ profile a ]\nKey = v = w\n; c\n#c\nnested =\n  sub = 1\n"
                         "after = 2\n[b]\n");
  ASSERT_EQ(ini.size(), 2u);
  EXPECT_EQ(ini["profile a"]["key"], "v = w");
  EXPECT_EQ(ini["profile a"]["nested"], "");
  EXPECT_EQ(ini["profile a"].count("sub"), 0u);
  EXPECT_EQ(ini["profile a"]["after"], "2");
  EXPECT_TRUE(ini["b"].empty());
}

}  // namespace
}  // namespace docshift::aws
