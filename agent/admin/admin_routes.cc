// The admin paths (see admin_routes.h). Each answer takes its own snapshot: probes are cheap
// (a few mutex-guarded copies and one read transaction of the buffer's small counts).
#include "agent/admin/admin_routes.h"

#include <sstream>

#include <prometheus/text_serializer.h>

#include <boost/beast/http/verb.hpp>

#include "agent/admin/probes.h"
#include "agent/admin/status_json.h"

namespace meterd {
namespace {

namespace http = boost::beast::http;

AdminResponse make_response(const AdminRequest& request, http::status status,
                            std::string content_type, std::string body) {
  AdminResponse response(status, request.version());
  response.set(http::field::server, "meterd");
  response.set(http::field::content_type, content_type);
  response.set(http::field::cache_control, "no-store");
  response.keep_alive(request.keep_alive());
  response.body() = std::move(body);
  response.prepare_payload();
  if (request.method() == http::verb::head) response.body().clear();  // the length stays
  return response;
}

}  // namespace

AdminResponse AdminRoutes::answer(const AdminRequest& request) {
  if (request.method() != http::verb::get && request.method() != http::verb::head) {
    AdminResponse response = make_response(request, http::status::method_not_allowed,
                                           "text/plain", "only GET and HEAD\n");
    response.set(http::field::allow, "GET, HEAD");
    return response;
  }
  std::string_view target(request.target().data(), request.target().size());
  target = target.substr(0, target.find('?'));  // Prometheus may add query parameters
  const AdminSources& sources = collector_.sources();
  if (target == "/metrics") {
    std::ostringstream text;
    prometheus::TextSerializer().Serialize(text, metrics_.Collect());
    return make_response(request, http::status::ok, "text/plain; version=0.0.4; charset=utf-8",
                         text.str());
  }
  if (target == "/healthz") {
    AgentSnapshot snapshot = collector_.collect();
    Health health = judge_health(snapshot, sources);
    return make_response(request,
                         health.healthy ? http::status::ok : http::status::service_unavailable,
                         "application/json", health_json(snapshot, health) + "\n");
  }
  if (target == "/readyz") {
    Readiness readiness = judge_readiness(collector_.collect(), sources);
    return make_response(request,
                         readiness.ready ? http::status::ok : http::status::service_unavailable,
                         "application/json", readiness_json(readiness) + "\n");
  }
  if (target == "/status") {
    AgentSnapshot snapshot = collector_.collect();
    std::string body = status_json(snapshot, sources, judge_health(snapshot, sources),
                                   judge_readiness(snapshot, sources));
    return make_response(request, http::status::ok, "application/json", body + "\n");
  }
  return make_response(request, http::status::not_found, "text/plain",
                       "not found: the admin paths are /metrics, /healthz, /readyz, /status\n");
}

}  // namespace meterd
