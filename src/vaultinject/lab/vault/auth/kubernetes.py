"""The Kubernetes auth method (vault-plugin-auth-kubernetes): config, roles, login with a real TokenReview.

Login order and error texts follow `path_login.go`: missing fields, unknown role, CIDRs, configuration, JWT
validation (a signature problem is a bare `permission denied`), bound names and namespaces, alias name, then
the TokenReview, whose every failure is a bare 403 `permission denied` with the cause only in the server log.

The reviewer bearer is the stored `token_reviewer_jwt`, else the server's own service-account token read from
`local_sa_token_file` (unless `disable_local_ca_jwt`), else the client's JWT. A stored token is used as
stored, forever; the local token and CA are re-read every minute and hour, and as soon as the files change.
"""

from __future__ import annotations

import re
from typing import Any

from vaultinject.lab.vault import fields, jose, responses
from vaultinject.lab.vault.acl import glob_list_contains
from vaultinject.lab.vault.auth import tokenfields
from vaultinject.lab.vault.auth.local_files import CachingFileReader, go_open_error
from vaultinject.lab.vault.auth.selectors import SelectorError, parse_selector
from vaultinject.lab.vault.auth.tokenreview import (
    KubeClient,
    KubeEndpoint,
    ReviewError,
    namespace_labels,
    review,
    service_account_annotations,
)
from vaultinject.lab.vault.backend import Backend, LoginRenewal, MountContext
from vaultinject.lab.vault.cidr import address_allowed
from vaultinject.lab.vault.durations import go_duration
from vaultinject.lab.vault.envelope import (
    Response,
    VaultError,
    bad_request,
    coded,
    internal_error,
    login_denied,
    not_found,
)
from vaultinject.lab.vault.request import CREATE, Request
from vaultinject.lab.vault.tokens import TokenEntry

AUDIENCE_WARNING = (
    "Role {name} does not have an audience configured. While audiences are not required, consider specifying "
    "one if your use case would benefit from additional JWT claim verification."
)
MAX_TTL_WARNING = (
    "token max ttl is greater than the system or backend mount's maximum TTL value; "
    "issued tokens' max TTL value will be truncated"
)
ALIAS_SOURCES = ("serviceaccount_uid", "serviceaccount_name")
ALIAS_METADATA_PREFIX = "vault.hashicorp.com/alias-metadata-"
RESERVED_METADATA = (
    "service_account_uid",
    "service_account_name",
    "service_account_namespace",
    "service_account_secret_name",
)
LEEWAY = 60
DEFAULT_LEEWAY = 150


class ServiceAccountClaims:
    """The service-account identity in a token's claims; projected `kubernetes.io` claims win."""

    def __init__(self, claims: dict[str, Any]) -> None:
        projected = claims.get("kubernetes.io")
        if projected is not None and not isinstance(projected, dict):
            raise internal_error("error decoding claims: 'kubernetes.io' expected a map")
        self.projected = projected
        account = projected.get("serviceaccount") if projected else None
        self.account = account if isinstance(account, dict) else None
        self.legacy_name = str(claims.get("kubernetes.io/serviceaccount/service-account.name", ""))
        self.legacy_uid = str(claims.get("kubernetes.io/serviceaccount/service-account.uid", ""))
        self.legacy_namespace = str(claims.get("kubernetes.io/serviceaccount/namespace", ""))
        self.secret_name = str(claims.get("kubernetes.io/serviceaccount/secret.name", ""))
        audience = claims.get("aud")
        self.audience = [audience] if isinstance(audience, str) else [str(a) for a in audience or []]

    @property
    def name(self) -> str:
        return str(self.account.get("name", "")) if self.account is not None else self.legacy_name

    @property
    def namespace(self) -> str:
        return (
            str(self.projected.get("namespace", "")) if self.projected is not None else self.legacy_namespace
        )

    def uid(self) -> str:
        uid = str(self.account.get("uid", "")) if self.account is not None else self.legacy_uid
        if not uid:
            raise internal_error("could not parse UID from claims")
        return uid


class KubernetesBackend(Backend):
    type_name = "kubernetes"
    unauthenticated_paths = ("login",)

    def __init__(self, context: MountContext) -> None:
        super().__init__(context)
        services = context.services
        settings = services.config
        self.clock = services.clock
        self.token_reader = CachingFileReader(
            settings.local_sa_token_file, settings.local_token_reload_seconds, self.clock.now
        )
        self.ca_reader = CachingFileReader(
            settings.local_ca_cert_file, settings.local_ca_reload_seconds, self.clock.now
        )
        self.client = KubeClient(timeout=settings.outbound_timeout)
        add = self.router.add
        add(r"config/?", read=self.read_config, update=self.write_config)
        add(r"role/?", list=self.list_roles)
        add(
            r"role/(?P<name>[^/]+)",
            read=self.read_role,
            update=self.write_role,
            delete=self.delete_role,
            exists=lambda _request, match: self.stored_role(match["name"]) is not None,
        )
        add(r"login", update=self.login)

    def close(self) -> None:
        self.client.close()

    # -- config -------------------------------------------------------------------------------------

    def write_config(self, request: Request, _match: re.Match[str]) -> Response:
        data = request.data
        host = fields.string(data, "kubernetes_host")
        if not host:
            raise bad_request("no host provided")
        pem_keys = fields.string_list(data, "pem_keys")
        for key in pem_keys:
            if not jose.load_pem_public_keys(key):
                raise bad_request("data does not contain any valid RSA or ECDSA public keys")
        ca_cert = fields.string(data, "kubernetes_ca_cert")
        if ca_cert and jose.count_pem_certificates(ca_cert) == 0:
            raise bad_request("The provided CA PEM data contains no valid certificates")
        config = {
            "kubernetes_host": host,
            "kubernetes_ca_cert": ca_cert,
            "token_reviewer_jwt": fields.string(data, "token_reviewer_jwt"),
            "pem_keys": pem_keys,
            "issuer": fields.string(data, "issuer"),
            "disable_iss_validation": fields.boolean(data, "disable_iss_validation", True),
            "disable_local_ca_jwt": fields.boolean(data, "disable_local_ca_jwt"),
            "use_annotations_as_alias_metadata": fields.boolean(data, "use_annotations_as_alias_metadata"),
        }
        self.storage.put("config", config)
        return responses.no_content()

    def read_config(self, _request: Request, _match: re.Match[str]) -> Response:
        config = self.storage.get("config")
        if config is None:
            raise not_found()
        return responses.data(
            {
                "kubernetes_host": config["kubernetes_host"],
                "kubernetes_ca_cert": config["kubernetes_ca_cert"],
                "pem_keys": config["pem_keys"],
                "issuer": config["issuer"],
                "disable_iss_validation": config["disable_iss_validation"],
                "disable_local_ca_jwt": config["disable_local_ca_jwt"],
                "token_reviewer_jwt_set": bool(config["token_reviewer_jwt"]),
                "use_annotations_as_alias_metadata": config["use_annotations_as_alias_metadata"],
            }
        )

    def _effective_config(self) -> dict[str, Any] | None:
        """The stored config with the local token and CA filled in, as `backend.loadConfig` does."""
        stored = self.storage.get("config")
        if stored is None:
            return None
        config = dict(stored)
        if config["disable_local_ca_jwt"]:
            return config
        if not config["token_reviewer_jwt"]:
            try:
                config["token_reviewer_jwt"] = self.token_reader.read()
            except OSError:
                config["token_reviewer_jwt"] = ""  # fall back to the client's own JWT
        if not config["kubernetes_ca_cert"]:
            try:
                config["kubernetes_ca_cert"] = self.ca_reader.read()
            except OSError as error:
                raise internal_error(go_open_error(self.ca_reader.path, error)) from None
        return config

    # -- roles --------------------------------------------------------------------------------------

    def read_role(self, _request: Request, match: re.Match[str]) -> Response:
        role = self.stored_role(match["name"])
        if role is None:
            raise not_found()
        view: dict[str, Any] = {
            "bound_service_account_names": role["bound_service_account_names"],
            "bound_service_account_namespaces": role["bound_service_account_namespaces"],
            "bound_service_account_namespace_selector": role["bound_service_account_namespace_selector"],
            "alias_name_source": role["alias_name_source"],
        }
        if role["audience"]:
            view["audience"] = role["audience"]
        view.update(tokenfields.view(role["token"]))
        return responses.data(dict(sorted(view.items())))

    def delete_role(self, _request: Request, match: re.Match[str]) -> Response:
        self.storage.delete(f"role/{match['name'].lower()}")
        return responses.no_content()

    def write_role(self, request: Request, match: re.Match[str]) -> Response:
        """Create or update a role; fields left out of an update keep their stored values."""
        name = match["name"].lower()
        creating = request.operation == CREATE
        role = (None if creating else self.stored_role(name)) or _new_role()
        role["token"] = tokenfields.parse(request.data, None if creating else role["token"])
        _merge_role_fields(role, request.data)
        _validate_bindings(role)
        return self._store_role(name, role)

    def _store_role(self, name: str, role: dict[str, Any]) -> Response:
        token = role["token"]
        if token["token_max_ttl"] > 0 and token["token_ttl"] > token["token_max_ttl"]:
            raise bad_request("token ttl should not be greater than token max ttl")
        limits = self.context.limits
        if token["token_period"] > limits.max_ttl:
            period, maximum = go_duration(token["token_period"]), go_duration(limits.max_ttl)
            raise bad_request(
                f'token period of "{period}" is greater than the backend\'s maximum lease TTL of "{maximum}"'
            )
        warnings = []
        if token["token_max_ttl"] > limits.max_ttl:
            warnings.append(MAX_TTL_WARNING)
        if not role["audience"]:
            warnings.append(AUDIENCE_WARNING.format(name=name))
        self.storage.put(f"role/{name}", role)
        return Response(warnings=warnings)

    # -- login --------------------------------------------------------------------------------------

    def login(self, request: Request, _match: re.Match[str]) -> Response:
        role_name = fields.string(request.data, "role")
        if not role_name:
            raise bad_request("missing role")
        jwt_text = fields.string(request.data, "jwt")
        if not jwt_text:
            raise bad_request("missing jwt")
        role = self.stored_role(role_name)
        if role is None:
            raise bad_request(f'invalid role name "{role_name}"')
        cidrs = role["token"]["token_bound_cidrs"]
        if cidrs and not address_allowed(request.remote_addr, cidrs):
            raise login_denied()
        config = self._effective_config()
        if config is None:
            raise internal_error("could not load backend configuration")
        account = self._validate_jwt(jwt_text, role, config)
        self._check_bindings(account, role, config, jwt_text)
        alias = self._alias_name(role, account)
        self._review(jwt_text, account, role, config, role_name)
        if config["use_annotations_as_alias_metadata"]:
            self._alias_metadata(config, jwt_text, account)
        uid = account.uid()
        metadata = {
            "role": role_name,
            "service_account_name": account.name,
            "service_account_namespace": account.namespace,
            "service_account_secret_name": account.secret_name,
            "service_account_uid": uid,
        }
        grant = tokenfields.grant(
            role["token"],
            metadata=metadata,
            display_name=f"{account.namespace}-{account.name}",
            alias_name=alias,
            internal={"role": role_name.lower()},
        )
        return Response(login=grant)

    def _validate_jwt(self, text: str, role: dict[str, Any], config: dict[str, Any]) -> ServiceAccountClaims:
        """cap/jwt validation; a malformed token or bad signature is a bare `permission denied`."""
        try:
            token = jose.parse(text, jose.KUBERNETES_ALGORITHMS)
        except jose.JWTError:
            raise login_denied() from None
        if config["pem_keys"]:
            keys = [key for pem in config["pem_keys"] for key in jose.load_pem_public_keys(pem)]
            if not jose.verify_any(token, keys):
                raise login_denied()
        claims = token.claims
        if (
            not config["disable_iss_validation"]
            and config["issuer"]
            and claims.get("iss") != config["issuer"]
        ):
            raise coded(403, "invalid issuer (iss) claim")
        audience = claims.get("aud")
        audiences = [audience] if isinstance(audience, str) else list(audience or [])
        if role["audience"] and role["audience"] not in audiences:
            raise coded(
                403, "invalid audience (aud) claim: audience claim does not match any expected audience"
            )
        _check_times(claims, self.clock.now())
        return ServiceAccountClaims(claims)

    def _check_bindings(
        self, account: ServiceAccountClaims, role: dict[str, Any], config: dict[str, Any], jwt_text: str
    ) -> None:
        names = role["bound_service_account_names"]
        if (len(names) > 1 or names[0] != "*") and not glob_list_contains(names, account.name):
            raise coded(403, "service account name not authorized")
        namespaces = role["bound_service_account_namespaces"]
        allowed = bool(namespaces) and (
            namespaces[0] == "*" or glob_list_contains(namespaces, account.namespace)
        )
        failure = ""
        if not allowed and role["bound_service_account_namespace_selector"]:
            try:
                selector = parse_selector(role["bound_service_account_namespace_selector"])
                labels = namespace_labels(self.client, self._endpoint(config, jwt_text), account.namespace)
                allowed = selector.matches(labels)
            except (SelectorError, ReviewError) as error:
                failure = str(error)
        if not allowed:
            raise coded(403, "namespace not authorized" + (f" err={failure}" if failure else ""))

    @staticmethod
    def _alias_name(role: dict[str, Any], account: ServiceAccountClaims) -> str:
        if role["alias_name_source"] == "serviceaccount_name":
            if not account.namespace or not account.name:
                raise internal_error("service account namespace and name must be set")
            return f"{account.namespace}/{account.name}"
        return account.uid()

    @staticmethod
    def _endpoint(config: dict[str, Any], jwt_text: str) -> KubeEndpoint:
        bearer = config["token_reviewer_jwt"] or jwt_text
        return KubeEndpoint(config["kubernetes_host"], config["kubernetes_ca_cert"], bearer.strip())

    def _review(
        self,
        jwt_text: str,
        account: ServiceAccountClaims,
        role: dict[str, Any],
        config: dict[str, Any],
        name: str,
    ) -> None:
        """TokenReview and the claim comparison; any failure is a bare 403, the cause goes to the log."""
        audiences = [role["audience"]] if role["audience"] else account.audience
        try:
            result = review(self.client, self._endpoint(config, jwt_text), jwt_text, audiences)
            if account.name != result.name:
                raise ReviewError("JWT names did not match")
            if account.uid() != result.uid:
                raise ReviewError("JWT UIDs did not match")
            if account.namespace != result.namespace:
                raise ReviewError("JWT namepaces did not match")
        except (ReviewError, VaultError) as error:
            reason = str(error) if isinstance(error, ReviewError) else "; ".join(error.errors)
            self.context.services.log(
                {
                    "level": "debug",
                    "msg": "login unauthorized",
                    "mount": self.context.mount.route_prefix,
                    "role": name,
                    "err": reason,
                }
            )
            raise login_denied() from None

    def _alias_metadata(
        self, config: dict[str, Any], jwt_text: str, account: ServiceAccountClaims
    ) -> dict[str, str]:
        try:
            annotations = service_account_annotations(
                self.client, self._endpoint(config, jwt_text), account.namespace, account.name
            )
        except ReviewError as error:
            raise internal_error(str(error)) from None
        metadata = {
            key[len(ALIAS_METADATA_PREFIX) :]: value
            for key, value in annotations.items()
            if key.startswith(ALIAS_METADATA_PREFIX)
        }
        reserved = sorted(key for key in metadata if key in RESERVED_METADATA)
        if reserved:
            raise bad_request(f"annotation keys {reserved} are reserved for alias metadata")
        return metadata

    def renew_login(self, token: TokenEntry) -> LoginRenewal:
        role_name = str(token.internal.get("role", ""))
        if not role_name:
            raise bad_request("failed to fetch role_name during renewal")
        role = self.stored_role(role_name)
        if role is None:
            raise bad_request(f"role {role_name} does not exist during renewal")
        params = role["token"]
        return LoginRenewal(
            ttl=int(params["token_ttl"]),
            max_ttl=int(params["token_max_ttl"]),
            period=int(params["token_period"]),
        )


def _new_role() -> dict[str, Any]:
    return {
        "bound_service_account_names": [],
        "bound_service_account_namespaces": [],
        "bound_service_account_namespace_selector": "",
        "audience": "",
        "alias_name_source": "",
        "token": {},
    }


def _merge_role_fields(role: dict[str, Any], data: dict[str, Any]) -> None:
    for name in ("bound_service_account_names", "bound_service_account_namespaces"):
        if fields.has(data, name):
            role[name] = fields.string_list(data, name)
    for name in ("bound_service_account_namespace_selector", "audience", "alias_name_source"):
        if fields.has(data, name):
            role[name] = fields.string(data, name)
    role["alias_name_source"] = role["alias_name_source"] or "serviceaccount_uid"


def _validate_bindings(role: dict[str, Any]) -> None:
    """The checks and messages of `pathRoleCreateUpdate`."""
    names, namespaces = role["bound_service_account_names"], role["bound_service_account_namespaces"]
    selector = role["bound_service_account_namespace_selector"]
    if not names:
        raise bad_request('"bound_service_account_names" can not be empty')
    if len(names) > 1 and "*" in names:
        raise bad_request('can not mix "*" with values')
    if not namespaces and not selector:
        raise bad_request(
            '"bound_service_account_namespaces" can not be empty if '
            '"bound_service_account_namespace_selector" is not set'
        )
    if len(namespaces) > 1 and "*" in namespaces:
        raise bad_request('can not mix "*" with values')
    if selector:
        try:
            parse_selector(selector)
        except SelectorError:
            raise bad_request('invalid "bound_service_account_namespace_selector" configured') from None
    if role["alias_name_source"] not in ALIAS_SOURCES:
        raise bad_request(f'invalid alias_name_source "{role["alias_name_source"]}"')


def _check_times(claims: dict[str, Any], now: float) -> None:
    """cap/jwt time checks with missing iat/nbf/exp allowed, 60 s clock-skew leeway, 150 s defaults."""
    issued, expiry, not_before = (_numeric(claims.get(name)) for name in ("iat", "exp", "nbf"))
    if not issued and not expiry and not not_before:
        return
    if not expiry:
        expiry = max(issued, not_before) + DEFAULT_LEEWAY
    if not not_before:
        not_before = issued or expiry - DEFAULT_LEEWAY
    if now + LEEWAY < not_before:
        raise coded(403, "invalid not before (nbf) claim: token not yet valid")
    if now - LEEWAY > expiry:
        raise coded(403, "invalid expiration time (exp) claim: token is expired")
    if issued and now + LEEWAY < issued:
        raise coded(403, "invalid issued at (iat) claim: token issued in the future")


def _numeric(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return float(value)
