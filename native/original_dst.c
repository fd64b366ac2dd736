/*
 * msnscope's native helper: the original destination of a connection that the firewall
 * redirected to us (iptables/nftables REDIRECT or DNAT), read with getsockopt SO_ORIGINAL_DST
 * (IPv4) or IP6T_SO_ORIGINAL_DST (IPv6). Node exposes neither. Linux only; elsewhere the
 * function reports that the platform cannot provide it.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <string.h>
#include <errno.h>
#include <stdio.h>

#ifdef __linux__
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/netfilter_ipv4.h>
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif
#endif

static napi_value fail(napi_env env, const char *code, const char *message) {
  napi_throw_error(env, code, message);
  return NULL;
}

/* originalDst(fd: number, family: 4 | 6): { address: string, port: number } */
static napi_value original_dst(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2) return fail(env, "EINVAL", "originalDst(fd, family)");
  int32_t fd = -1, family = 4;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_int32(env, argv[1], &family) != napi_ok) return fail(env, "EINVAL", "fd and family must be numbers");
#ifdef __linux__
  char text[INET6_ADDRSTRLEN];
  int port = 0;
  if (family == 6) {
    struct sockaddr_in6 a;
    socklen_t len = sizeof a;
    memset(&a, 0, sizeof a);
    if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &a, &len) != 0) return fail(env, "ENOORIGDST", strerror(errno));
    inet_ntop(AF_INET6, &a.sin6_addr, text, sizeof text);
    port = ntohs(a.sin6_port);
  } else {
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    memset(&a, 0, sizeof a);
    if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &a, &len) != 0) return fail(env, "ENOORIGDST", strerror(errno));
    inet_ntop(AF_INET, &a.sin_addr, text, sizeof text);
    port = ntohs(a.sin_port);
  }
  napi_value result, address, portValue;
  napi_create_object(env, &result);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &address);
  napi_create_int32(env, port, &portValue);
  napi_set_named_property(env, result, "address", address);
  napi_set_named_property(env, result, "port", portValue);
  return result;
#else
  (void)fd; (void)family;
  return fail(env, "EPLATFORM", "SO_ORIGINAL_DST is only available on Linux");
#endif
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "originalDst", NAPI_AUTO_LENGTH, original_dst, NULL, &fn);
  napi_set_named_property(env, exports, "originalDst", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
