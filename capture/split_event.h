// Reassembles change events the server split with $changeStreamSplitLargeEvent (MongoDB
// 7.0, 6.0.9+): an event over 16 MB arrives as fragments, each with its own resume token
// (_id) and splitEvent: {fragment: i, of: n}, together holding the event's top-level
// fields (https://www.mongodb.com/docs/manual/reference/operator/aggregation/changeStreamSplitLargeEvent/).
// The whole event gets the last fragment's _id: a restart from it continues after the
// event; capture never records a position inside one (the fragments come again).
//
// Thread safety: one per stream reader.
#pragma once

#include <bson/bson.h>

#include <cstdint>

#include "mongo/mongo_util.h"
#include "util/status.h"

namespace docshift::capture {

class SplitEventAssembler {
 public:
  // Whether doc is a fragment (has splitEvent).
  static bool IsFragment(const bson_t* doc);
  // Adds the next fragment; *whole is set (else left empty) once its last fragment is in.
  // InvalidArgument when a fragment comes out of order (the assembler starts over).
  Status Add(const bson_t* fragment, mongo::BsonPtr* whole);
  // Fragments held, waiting for the rest.
  bool pending() const { return next_ > 1; }

 private:
  mongo::BsonPtr merged_;
  int32_t next_ = 1;  // the fragment expected next
  int32_t of_ = 0;
};

}  // namespace docshift::capture
