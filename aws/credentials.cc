#include "aws/credentials.h"

#include "aws/text.h"

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

namespace docshift::aws {
namespace {

std::string_view Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r')) --e;
  return s.substr(b, e - b);
}

// Reads `path` into *out. NotFound when it does not exist (a missing file is normal).
Status ReadFile(const std::string& path, std::string* out) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return Status::NotFound(path);
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::FromErrno(path, errno != 0 ? errno : EIO);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status::IOError(path + ": read failed");
  *out = ss.str();
  return Status::OK();
}

// The file named by `var`, else ~/.aws/<name>; empty when neither can be formed.
std::string AwsFilePath(const EnvLookup& env, const char* var, const char* name) {
  if (auto p = env(var)) return *p;
  if (auto home = env("HOME")) return *home + "/.aws/" + name;
  return "";
}

// Loads and parses `path`; a missing file is an empty IniFile.
Status LoadIni(const std::string& path, IniFile* out) {
  out->clear();
  if (path.empty()) return Status::OK();
  std::string text;
  Status s = ReadFile(path, &text);
  if (s.IsNotFound()) return Status::OK();
  RETURN_IF_ERROR(s);
  *out = ParseIni(text);
  return Status::OK();
}

std::string ProfileName(const EnvLookup& env) {
  if (auto p = env("AWS_PROFILE")) return *p;
  return "default";
}

// The profile's section in the config file: [default] or [profile NAME].
const std::map<std::string, std::string>* ConfigSection(const IniFile& config,
                                                        const std::string& profile) {
  auto it = config.find("profile " + profile);
  if (it == config.end() && profile == "default") it = config.find("default");
  return it == config.end() ? nullptr : &it->second;
}

std::string Get(const std::map<std::string, std::string>& section, const char* key) {
  auto it = section.find(key);
  return it == section.end() ? std::string() : it->second;
}

// Static keys from one profile section. NotFound when the section has none.
StatusOr<Credentials> FromSection(const std::map<std::string, std::string>& section,
                                  const std::string& where) {
  Credentials c;
  c.access_key_id = Get(section, "aws_access_key_id");
  c.secret_access_key = Get(section, "aws_secret_access_key");
  c.session_token = Get(section, "aws_session_token");
  c.source = where;
  if (c.access_key_id.empty() && c.secret_access_key.empty()) {
    for (const char* key : {"role_arn", "sso_start_url", "sso_session", "credential_process",
                            "web_identity_token_file"}) {
      if (section.count(key)) {
        return Status::NotSupported(where + " uses " + key +
                                    ", which docshift does not support: give static keys "
                                    "(aws_access_key_id, aws_secret_access_key) or export "
                                    "them as AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY");
      }
    }
    return Status::NotFound(where);
  }
  if (c.access_key_id.empty() || c.secret_access_key.empty()) {
    return Status::InvalidArgument(
        where + " has " + (c.access_key_id.empty() ? "aws_secret_access_key" : "aws_access_key_id") +
        " but no " + (c.access_key_id.empty() ? "aws_access_key_id" : "aws_secret_access_key") +
        ": give both");
  }
  return c;
}

}  // namespace

std::string Credentials::Redacted() const {
  std::string id = access_key_id.size() > 8
                       ? access_key_id.substr(0, 4) + "…" +
                             access_key_id.substr(access_key_id.size() - 4)
                       : std::string("…");
  std::string out = "access key " + id;
  if (!source.empty()) out += " from " + source;
  if (!session_token.empty()) out += ", with session token";
  return out;
}

EnvLookup ProcessEnv() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* v = std::getenv(std::string(name).c_str());
    if (v == nullptr || *v == '\0') return std::nullopt;
    return std::string(v);
  };
}

EnvLookup MapEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end() || it->second.empty()) return std::nullopt;
    return it->second;
  };
}

IniFile ParseIni(std::string_view text) {
  IniFile out;
  std::string section;
  bool in_section = false;
  for (std::string_view raw : SplitView(text, '\n')) {
    bool indented = !raw.empty() && (raw[0] == ' ' || raw[0] == '\t');
    std::string_view line = Trim(raw);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      section = std::string(Trim(line.substr(1, line.size() - 2)));
      in_section = true;
      out[section];
      continue;
    }
    if (!in_section || indented) continue;  // Outside a section, or a nested sub-key.
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    out[section][AsciiLower(Trim(line.substr(0, eq)))] = std::string(Trim(line.substr(eq + 1)));
  }
  return out;
}

StatusOr<Credentials> LoadCredentials(const EnvLookup& env) {
  auto id = env("AWS_ACCESS_KEY_ID");
  auto secret = env("AWS_SECRET_ACCESS_KEY");
  if (id && secret) {
    Credentials c;
    c.access_key_id = *id;
    c.secret_access_key = *secret;
    c.session_token = env("AWS_SESSION_TOKEN").value_or("");
    c.source = "environment";
    return c;
  }
  if (id || secret) {
    return Status::InvalidArgument(
        std::string(id ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY") + " is set but " +
        (id ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID") +
        " is not: set both, or unset both to use a profile");
  }

  const std::string profile = ProfileName(env);
  const std::string cred_path = AwsFilePath(env, "AWS_SHARED_CREDENTIALS_FILE", "credentials");
  const std::string config_path = AwsFilePath(env, "AWS_CONFIG_FILE", "config");
  IniFile cred_file, config_file;
  RETURN_IF_ERROR(LoadIni(cred_path, &cred_file));
  RETURN_IF_ERROR(LoadIni(config_path, &config_file));

  bool profile_seen = false;
  if (auto it = cred_file.find(profile); it != cred_file.end()) {
    profile_seen = true;
    auto c = FromSection(it->second, "profile '" + profile + "' in " + cred_path);
    if (c.ok() || !c.status().IsNotFound()) return c;
  }
  if (const auto* section = ConfigSection(config_file, profile)) {
    profile_seen = true;
    auto c = FromSection(*section, "profile '" + profile + "' in " + config_path);
    if (c.ok() || !c.status().IsNotFound()) return c;
  }
  if (profile_seen) {
    return Status::InvalidArgument("AWS profile '" + profile + "' has no aws_access_key_id (" +
                                   cred_path + ", " + config_path +
                                   "): add the keys to it or set AWS_ACCESS_KEY_ID and "
                                   "AWS_SECRET_ACCESS_KEY");
  }
  if (env("AWS_PROFILE")) {
    return Status::InvalidArgument("AWS profile '" + profile + "' (AWS_PROFILE) not found in " +
                                   cred_path + " or " + config_path +
                                   ": fix AWS_PROFILE or add the profile");
  }
  return Status::InvalidArgument(
      "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or add a "
      "[default] profile to " + cred_path + " (or choose one with AWS_PROFILE)");
}

StatusOr<std::string> ResolveRegion(const EnvLookup& env, std::string_view from_uri) {
  if (!from_uri.empty()) return std::string(from_uri);
  if (auto r = env("AWS_REGION")) return *r;
  if (auto r = env("AWS_DEFAULT_REGION")) return *r;
  const std::string config_path = AwsFilePath(env, "AWS_CONFIG_FILE", "config");
  IniFile config_file;
  RETURN_IF_ERROR(LoadIni(config_path, &config_file));
  const std::string profile = ProfileName(env);
  if (const auto* section = ConfigSection(config_file, profile)) {
    std::string r = Get(*section, "region");
    if (!r.empty()) return r;
  }
  return Status::InvalidArgument(
      "no AWS region: give it in the source URI (dynamodb://REGION/TABLE), set AWS_REGION, "
      "or add region to profile '" + profile + "' in " +
      (config_path.empty() ? std::string("~/.aws/config") : config_path));
}

std::optional<std::string> ResolveEndpoint(const EnvLookup& env, std::string_view service_id) {
  if (auto e = env("AWS_ENDPOINT_URL_" + std::string(service_id))) return e;
  return env("AWS_ENDPOINT_URL");
}

}  // namespace docshift::aws
