// AWS credentials, region and endpoints, resolved by the conventions the AWS SDKs and CLI
// follow, so a user's existing setup works unchanged:
//   credentials: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN), else the
//                profile AWS_PROFILE (default "default") from the shared credentials file
//                (AWS_SHARED_CREDENTIALS_FILE, default ~/.aws/credentials, sections [NAME]),
//                then from the config file (AWS_CONFIG_FILE, default ~/.aws/config,
//                sections [profile NAME] and [default]);
//   region:      the source URI's, else AWS_REGION, else AWS_DEFAULT_REGION, else the
//                profile's `region` in the config file;
//   endpoint:    AWS_ENDPOINT_URL_<SERVICE> (e.g. AWS_ENDPOINT_URL_DYNAMODB,
//                AWS_ENDPOINT_URL_DYNAMODB_STREAMS, AWS_ENDPOINT_URL_S3), else
//                AWS_ENDPOINT_URL, else none (the caller uses the AWS default).
//
// The environment is a parameter (EnvLookup) so tests never touch the process
// environment. Only static keys are supported: a profile that needs role assumption,
// SSO or a credential_process is refused with a message saying so.
//
// Secrets: Credentials has no operator<<; Redacted() is the only description, and no
// error message built here contains a secret or a session token.
//
// Thread safety: pure functions; Credentials is a value.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "util/status.h"

namespace docshift::aws {

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;  // Never printed, never in an error message.
  std::string session_token;      // Empty when none. Never printed either.
  std::string source;             // Where they came from: "environment", "profile x in F".

  // "access key AKID…MPLE from environment, with session token"; never the secret.
  std::string Redacted() const;
};

// Returns the value of an environment variable, or nullopt when it is unset. An empty
// value counts as unset, as the AWS CLI treats it.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

// The process environment (getenv).
EnvLookup ProcessEnv();
// A fixed map, for tests.
EnvLookup MapEnv(std::map<std::string, std::string> vars);

// Credentials by the conventions above.
// Errors: InvalidArgument for incomplete settings (a key without its secret, a named
// profile that does not exist, no credentials anywhere), NotSupported for a profile that
// needs role/SSO/process credentials, IOError for a file that exists but cannot be read.
StatusOr<Credentials> LoadCredentials(const EnvLookup& env);

// The region: `from_uri` when not empty, else by the conventions above.
// Errors: InvalidArgument when no region is configured anywhere.
StatusOr<std::string> ResolveRegion(const EnvLookup& env, std::string_view from_uri);

// The endpoint URL for `service_id` ("DYNAMODB", "DYNAMODB_STREAMS", "S3": upper case,
// as in the variable name), or nullopt for the AWS default.
std::optional<std::string> ResolveEndpoint(const EnvLookup& env, std::string_view service_id);

// A parsed INI-style AWS file: section name -> key -> value. Section names are as
// written between the brackets ("default", "profile x"); keys are lower-cased; indented
// sub-keys (e.g. under "s3 =") are ignored. Exposed for tests.
using IniFile = std::map<std::string, std::map<std::string, std::string>>;
IniFile ParseIni(std::string_view text);

}  // namespace docshift::aws
