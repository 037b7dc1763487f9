// msgpack → JSON transcoding for the compact event form.
//
// An event may arrive as a msgpack map with the same fields as its CloudEvents JSON. Rather than
// a second decoder with its own validation, the map is rewritten as JSON and decoded by the one
// CloudEventDecoder, so both forms obey exactly the same rules. Pure: bytes in, text out.
#pragma once

#include <string>
#include <string_view>

namespace meterd {

// True if `payload` starts like msgpack (a map or an array), not like JSON text.
bool looks_like_msgpack(std::string_view payload);

// Transcodes one msgpack map, an array of maps, or several concatenated maps (several events in
// one datagram or body) into JSON text: an object, or an array of objects. False with `error`
// set when the bytes are not well-formed msgpack or hold something JSON cannot say (binary,
// extension types, non-string keys, non-finite floats).
bool msgpack_to_json(std::string_view payload, std::string* json, std::string* error);

}  // namespace meterd
