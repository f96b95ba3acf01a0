// docshift: one binary, one subcommand per process. Parse flags, init logging, run.
#include <gflags/gflags.h>
#include <glog/logging.h>

#include <curl/curl.h>
#include <google/protobuf/stubs/common.h>
#include <mongoc/mongoc.h>
#include <openssl/crypto.h>
#include <zstd.h>

#include <cstring>
#include <iostream>

#include "cli/command.h"
#include "cli/signals.h"
#include "mongo/mongo_util.h"

namespace {

// Debian's libmongoc 1.23 runs mongoc_init() from a library constructor, before main() and
// before InitOnce() installs the glog handler. That init maps shared-memory counters (read
// only by the mongoc-stat tool, never by docshift) and, where /dev/shm is not writable
// (containers, sandboxed CI), logs "Falling back to malloc for counters." through the
// default handler straight to stderr, breaking the one-line error contract. A
// .preinit_array entry runs after relocation but before every shared library's
// constructor, so the early handler is in place in time. (Setting MONGOC_DISABLE_SHM there
// does not work: libc's own initialisation resets environ afterwards.)
void InstallEarlyMongocLogHandler(int, char**, char**) {
  mongoc_log_set_handler(docshift::mongo::EarlyLogHandler, nullptr);
}
__attribute__((section(".preinit_array"), used)) void (*const kPreinit)(int, char**, char**) =
    &InstallEarlyMongocLogHandler;

// libmongoc's TLS and SASL backends, as its headers (the package built against) declare
// them: TLS URIs need one; libmongoc without TLS refuses tls=true.
std::string MongocBackends() {
#if defined(MONGOC_ENABLE_SSL_OPENSSL)
  std::string tls = "TLS: OpenSSL";
#elif defined(MONGOC_ENABLE_SSL_LIBRESSL)
  std::string tls = "TLS: LibreSSL";
#elif defined(MONGOC_ENABLE_SSL)
  std::string tls = "TLS: yes";
#else
  std::string tls = "TLS: none";
#endif
#if defined(MONGOC_ENABLE_SASL_CYRUS)
  return tls + ", SASL: Cyrus";
#else
  return tls;
#endif
}

// One line per library docshift is built with, as it reports itself at run time.
std::string LibraryVersions() {
  std::string out;
  out += std::string("  libmongoc ") + mongoc_get_version() + " (" + MongocBackends() + "), libbson " +
         bson_get_version() + "\n";
  out += std::string("  zstd ") + ZSTD_versionString() + ", protobuf " +
         google::protobuf::internal::VersionString(GOOGLE_PROTOBUF_VERSION) + "\n";
  out += std::string("  ") + curl_version() + "\n";
  out += std::string("  ") + OpenSSL_version(OPENSSL_VERSION) + "\n";
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace docshift::cli;
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0 ||
      std::strcmp(argv[1], "help") == 0) {
    PrintTopHelp(std::cout);
    return argc < 2 ? kExitUsage : kExitOk;
  }
  if (std::strcmp(argv[1], "--version") == 0 || std::strcmp(argv[1], "version") == 0) {
    std::cout << "docshift " << DOCSHIFT_VERSION << "\n" << LibraryVersions();
    return kExitOk;
  }
  for (const Command& cmd : AllCommands()) {
    if (cmd.name != argv[1]) continue;
    std::vector<std::string> positional;
    bool help = false;
    docshift::Status s = ParseCommandFlags(cmd, argc - 2, argv + 2, &positional, &help);
    if (!s.ok()) return Fail(cmd.name, s);
    if (help) {
      PrintCommandHelp(cmd, std::cout);
      return kExitOk;
    }
    if (!FLAGS_log_dir.empty()) FLAGS_logtostderr = false;
    // Once gflags holds the values: every credential in a URI argument (--source URI,
    // --target=URI, ...) is overwritten, so `ps` and /proc/PID/cmdline stop showing it.
    for (int i = 2; i < argc; ++i) docshift::mongo::ScrubCredentialsInPlace(argv[i]);
    return cmd.run(positional);
  }
  std::cerr << "docshift: unknown command '" << argv[1] << "'; see `docshift --help`\n";
  return kExitUsage;
}
