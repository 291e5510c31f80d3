"""The agent's lifecycle: log in (or resume), render everything, then keep it fresh until stopped."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from types import FrameType

from vaultinject.agent import sink
from vaultinject.agent.backoff import AUTH_ERROR_CAP, Backoff
from vaultinject.agent.commands import run_command
from vaultinject.agent.config import AgentOptions
from vaultinject.agent.login import CredentialError, login
from vaultinject.agent.logs import Logger
from vaultinject.agent.renderer import Compiled, Renderer, RenderError
from vaultinject.agent.store import Dependency, Store, TokenState
from vaultinject.records import Record
from vaultinject.spec import READY_FILE, STARTED_FILE, InjectionSpec
from vaultinject.vault import InvalidRequest, PermissionDenied, TLSConfig, VaultClient, VaultError

DEFAULT_THRESHOLD = 2 / 3  # renew a lease when two thirds of it have passed
DEFAULT_STATIC_INTERVAL = 300.0
MAX_ATTEMPTS = 12  # consecutive failures before exit_on_retry_failure stops the agent
SHUTDOWN_TIMEOUT = 0.4
STOPPED_BEFORE_DONE = 143  # 128 + SIGTERM: an init agent stopped before its secrets were written
TOKEN_FILE_MODE = 0o640

RETRYABLE = (VaultError, CredentialError, RenderError, OSError)
MAX_WAIT = 5.0  # re-check readiness at least this often
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TypeVar

    T = TypeVar("T")


class Shutdown(BaseException):
    """SIGTERM or SIGINT arrived while the agent was waiting."""


class Exit(Exception):
    """Stop with this exit code."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class Action(Record):
    """Something due at `at`: renew or re-login the token, renew or refetch a dependency."""

    at: float
    kind: str  # token, renew, refetch
    key: str = ""


def client_for(spec: InjectionSpec) -> VaultClient:
    vault = spec.vault
    tls = TLSConfig(
        ca_file=vault.ca_cert,
        ca_path=vault.ca_path,
        ca_pem=vault.ca_cert_bytes,
        client_cert=vault.client_cert,
        client_key=vault.client_key,
        server_name=vault.tls_server_name,
        skip_verify=vault.tls_skip_verify,
    )
    return VaultClient(
        vault.address,
        tls=tls,
        namespace=spec.auth.vault_namespace,
        timeout=vault.client_timeout or 60.0,
        proxy=vault.proxy_address,
        max_retries=2 if vault.client_max_retries is None else vault.client_max_retries,
    )


class Agent:
    """One agent process in one mode."""

    def __init__(
        self,
        options: AgentOptions,
        spec: InjectionSpec,
        compiled: list[Compiled],
        logger: Logger,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.mode = options.mode
        self.spec = spec
        self.compiled = compiled
        self.logger = logger
        self.clock = clock
        self.state_dir = options.state_dir
        self.store = Store(options.state_dir)
        self.client = client_for(spec)
        self.renderer = Renderer(self.store, self.client, logger)
        self.uses: dict[str, frozenset[str]] = {}  # destination -> dependency keys its template read
        self.final: set[str] = set()  # leases that reached their max TTL: refetch, do not renew
        self.stale: set[str] = set()  # leases of a replaced token: refetch now
        self.failing_since: float | None = None
        self.failures = 0
        self.backoff = Backoff(spec.auth.min_backoff, spec.auth.max_backoff)
        self.threshold = spec.template_config.lease_renewal_threshold or DEFAULT_THRESHOLD
        self.static_interval = spec.template_config.static_secret_render_interval or DEFAULT_STATIC_INTERVAL
        self.ready: bool | None = None
        self._interruptible = False
        self._stopping = False

    # Entry.

    def run(self) -> int:
        """Run to completion (init) or until SIGTERM (sidecar, native); return the exit code."""
        self._install_signal_handlers()
        try:
            return self._run()
        except Shutdown:
            self._shut_down()
            return 0 if self.ready else STOPPED_BEFORE_DONE
        except Exit as exit_:
            return exit_.code
        finally:
            self.client.close()

    def _run(self) -> int:
        started = time.monotonic()
        sink.remove_stale_temporaries(self.state_dir)
        self.logger.info(
            "starting",
            mode=self.mode,
            vault=self.spec.vault.address,
            auth=f"{self.spec.auth.type} at {self.spec.auth.path}",
            role=self.spec.auth.role or "",
            secrets=len(self.compiled),
        )
        if not self._resume():
            self.store.dependencies.clear()  # leases of a token that is gone are gone with it
            self._login_until_done()
        self._render_until_done()
        self.store.save()
        sink.set_marker(self._marker(STARTED_FILE), True)
        self._set_ready(True)
        self.logger.info(
            "secrets rendered", files=len(self.compiled), seconds=f"{time.monotonic() - started:.3f}"
        )
        if self.mode == "init":
            return 0
        self._keep_fresh()
        return 0

    # Logging in.

    def _resume(self) -> bool:
        """Use the token and leases an earlier agent of this pod saved, when they are still valid."""
        if not self.store.load() or self.store.token is None:
            return False
        token, now = self.store.token, self.clock()
        if token.expires_at is not None and token.expires_at < now + 5:
            self.logger.info("saved token has expired; logging in")
            return False
        self.client.token = token.token
        self.logger.add_secret([token.token, token.accessor])
        try:
            self._interruptibly(self.client.lookup_self)
        except PermissionDenied:
            self.logger.info("saved token was revoked; logging in")
            self.store.dependencies.clear()
            return False
        except VaultError as error:
            self.logger.warn("cannot check the saved token; using it", cause=error.cause, error=str(error))
        expired = [
            key for key, dep in self.store.dependencies.items() if dep.expires_at and dep.expires_at <= now
        ]
        for key in expired:
            del self.store.dependencies[key]
        for dependency in self.store.dependencies.values():
            self.renderer.learn(dependency)
        self.logger.info(
            "resumed from saved state",
            dependencies=len(self.store.dependencies),
            token_ttl=token.ttl or "none",
        )
        self._write_token_file()
        return True

    def _login_until_done(self) -> None:
        while True:
            try:
                auth = self._interruptibly(
                    lambda: login(self.client, self.spec.auth, remember=self.logger.add_secret)
                )
            except (VaultError, CredentialError) as error:
                self._login_failed(error)
                continue
            self.logger.add_secret([auth.client_token, auth.accessor])
            self.store.token = TokenState(
                auth.client_token, auth.accessor, auth.lease_duration, auth.renewable, self.clock()
            )
            self.backoff.reset()
            self.logger.info(
                "authenticated", method=self.spec.auth.type, path=self.spec.auth.path, ttl=auth.lease_duration
            )
            self._write_token_file()
            return

    def _login_failed(self, error: VaultError | CredentialError) -> None:
        auth_refused = isinstance(error, PermissionDenied | InvalidRequest)
        fields: dict[str, object] = {"error": str(error)}
        if isinstance(error, VaultError):
            fields.update(cause=error.cause, hint=error.hint)
        else:
            fields.update(cause="credential", hint="check the token file the pod mounts")
        if isinstance(error, PermissionDenied):
            fields["hint"] = (
                "Vault rejected this pod's service-account token; if many pods see this at once, Vault's "
                "Kubernetes auth configuration is probably broken (run `vaultinject doctor`, or let the "
                "vaultinject healer repair it)"
            )
        if self.spec.auth.exit_on_err:
            self.logger.error("authentication failed; exiting (agent-auto-auth-exit-on-err)", **fields)
            raise Exit(1)
        delay = self.backoff.next(
            retry_after=getattr(error, "retry_after", None), cap=AUTH_ERROR_CAP if auth_refused else None
        )
        self.logger.error("authentication failed", backoff=f"{delay:.1f}s", **fields)
        self._sleep(delay)

    def _write_token_file(self) -> None:
        if self.spec.inject_token and self.store.token is not None:
            sink.write_atomic(
                self.spec.token_file,
                self.store.token.token.encode(),
                TOKEN_FILE_MODE,
                inside=self.spec.secret_volume_path,
            )

    # Rendering.

    def _render_until_done(self) -> None:
        """Render every template once; retry failures with backoff (the app waits for this)."""
        pending = list(self.compiled)
        while pending:
            try:
                while pending:
                    self._render(pending[0])
                    pending.pop(0)
            except RETRYABLE as error:
                self._failed(error, initial=True)
        self.backoff.reset()

    def _render(self, compiled: Compiled) -> bool:
        result = self._interruptibly(lambda: self.renderer.render(compiled))
        self.uses[compiled.secret.destination] = result.keys
        if result.changed:
            self.logger.info("rendered", file=compiled.secret.destination)
            if compiled.secret.command:
                run_command(compiled.secret.command, self.logger, file=compiled.secret.destination)
        return result.changed

    def _failed(self, error: BaseException, *, initial: bool) -> None:
        now = self.clock()
        self.failing_since = self.failing_since or now
        self.failures += 1
        if isinstance(error, PermissionDenied) and self._token_is_dead():
            self.logger.warn("the Vault token no longer works; logging in again")
            self._relogin()
            return
        cause = getattr(error, "cause", "io")
        hint = getattr(error, "hint", "check the destination directory")
        limit = (
            self.spec.template_config.exit_on_retry_failure and not initial and self.failures >= MAX_ATTEMPTS
        )
        delay = self.backoff.next(retry_after=getattr(error, "retry_after", None))
        what = "render failed" if initial or isinstance(error, RenderError) else "refresh failed"
        self.logger.error(what, error=str(error), cause=cause, hint=hint, backoff=f"{delay:.1f}s")
        if limit:
            self.logger.error("giving up after repeated failures (template-config-exit-on-retry-failure)")
            raise Exit(1)
        self._update_readiness()
        self._sleep(delay)

    def _token_is_dead(self) -> bool:
        try:
            self._interruptibly(self.client.lookup_self)
        except PermissionDenied:
            return True
        except VaultError:
            return False
        return False

    def _relogin(self) -> None:
        """A new token: every leased dependency belonged to the old one and must be fetched again."""
        self._login_until_done()
        self.stale.update(key for key, dependency in self.store.dependencies.items() if dependency.leased)
        self.store.save()

    # Keeping secrets fresh.

    def _keep_fresh(self) -> None:
        while True:  # until SIGTERM: every wait and every call below is interruptible
            self._update_readiness()
            action = self._next_action()
            wait = action.at - self.clock()
            if wait > 0:
                self._sleep(min(wait, MAX_WAIT))
                continue
            try:
                self._perform(action)
            except RETRYABLE as error:
                self._failed(error, initial=False)
                continue
            self.failures, self.failing_since = 0, None
            self.backoff.reset()

    def _next_action(self) -> Action:
        actions = [self._token_action()] if self.store.token is not None else []
        used = self._used()
        dependencies = self.store.dependencies
        actions += [self._dependency_action(dependencies[key]) for key in used if key in dependencies]
        if self.failing_since is not None:
            actions.append(Action(self.clock(), "rerender"))
        return min(actions, default=Action(float("inf"), "none"))

    def _used(self) -> set[str]:
        return set().union(*self.uses.values()) if self.uses else set()

    def _token_action(self) -> Action:
        token = self.store.token
        assert token is not None
        if not token.ttl:
            return Action(float("inf"), "token")
        return Action(token.renewed_at + token.ttl * self.threshold, "token")

    def _dependency_action(self, dependency: Dependency) -> Action:
        if dependency.key in self.stale:
            return Action(self.clock(), "refetch", dependency.key)
        if dependency.leased and dependency.renewable and dependency.key not in self.final:
            renewed_at = (dependency.expires_at or dependency.fetched_at) - dependency.lease_duration
            return Action(renewed_at + dependency.lease_duration * self.threshold, "renew", dependency.key)
        if dependency.expires_at is not None:
            lifetime = dependency.expires_at - dependency.fetched_at
            return Action(dependency.fetched_at + lifetime * self.threshold, "refetch", dependency.key)
        return Action(dependency.fetched_at + self.static_interval, "refetch", dependency.key)

    def _perform(self, action: Action) -> None:
        if action.kind == "token":
            self._refresh_token()
        elif action.kind == "renew":
            self._renew(self.store.dependencies[action.key])
        elif action.kind == "refetch":
            self._refetch(self.store.dependencies[action.key])
        elif action.kind == "rerender":
            self._rerender(set(self.store.dependencies))

    def _refresh_token(self) -> None:
        token = self.store.token
        assert token is not None
        if not token.renewable:
            self._relogin()
            return
        auth = self._interruptibly(self.client.renew_self)
        now = self.clock()
        if auth.lease_duration < token.ttl * (1 - self.threshold):
            self.logger.info("token reached its max TTL; logging in again before it expires")
            self._relogin()
            return
        token.ttl, token.renewed_at, token.expires_at = auth.lease_duration, now, now + auth.lease_duration
        self.store.save()
        self.logger.debug("token renewed", ttl=auth.lease_duration)

    def _renew(self, dependency: Dependency) -> None:
        requested = dependency.lease_duration
        try:
            body = self._interruptibly(lambda: self.client.renew_lease(dependency.lease_id, requested))
        except InvalidRequest as error:  # expired, revoked, or not renewable after all: fetch a new one
            self.logger.warn(
                "lease cannot be renewed; fetching a new secret", path=dependency.path, error=str(error)
            )
            self.stale.add(dependency.key)
            return
        granted = int(body.get("lease_duration") or 0)
        dependency.renewed(granted, self.clock())
        if granted < requested * 0.9 or granted < 1:
            self.final.add(dependency.key)  # capped by its max TTL: fetch a new one before it runs out
        self.store.save()
        self.logger.debug("lease renewed", path=dependency.path, ttl=granted)

    def _refetch(self, dependency: Dependency) -> None:
        old = dependency.body
        fresh = self._interruptibly(
            lambda: self.renderer.fetch(dependency.op, dependency.path, dependency.params)
        )
        self.final.discard(fresh.key)
        self.stale.discard(fresh.key)
        if fresh.body != old or dependency.leased:
            self._rerender({fresh.key})  # saves the store
        else:
            self.store.save()

    def _rerender(self, keys: set[str]) -> None:
        for compiled in self.compiled:
            if (
                self.uses.get(compiled.secret.destination, frozenset()) & keys
                or compiled.secret.destination not in self.uses
            ):
                self._render(compiled)
        self._forget_unused()
        self.store.save()

    def _forget_unused(self) -> None:
        used = self._used()
        for key in [key for key in self.store.dependencies if key not in used]:
            del self.store.dependencies[key]

    # Readiness.

    def _update_readiness(self) -> None:
        now = self.clock()
        used = self._used()
        expired = any(
            (dep.expires_at or now + 1) <= now for key, dep in self.store.dependencies.items() if key in used
        )
        failing = self.failing_since is not None and now - self.failing_since > self.spec.not_ready_after
        self._set_ready(len(self.uses) == len(self.compiled) and not expired and not failing)

    def _set_ready(self, ready: bool) -> None:
        if ready != self.ready:
            sink.set_marker(self._marker(READY_FILE), ready)
            if self.ready is not None:
                self.logger.info("ready" if ready else "not ready: a secret is missing, expired or failing")
            self.ready = ready

    def _marker(self, default_path: str) -> str:
        return f"{self.state_dir.rstrip('/')}/{default_path.rsplit('/', 1)[1]}"

    # Signals and shutdown.

    def _install_signal_handlers(self) -> None:
        def handle(_signum: int, _frame: FrameType | None) -> None:
            self._stopping = True
            if self._interruptible:
                raise Shutdown

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)

    def _interruptibly(self, call: Callable[[], T]) -> T:
        """Run a blocking call that SIGTERM may cut short."""
        if self._stopping:
            raise Shutdown
        self._interruptible = True
        try:
            return call()
        finally:
            self._interruptible = False

    def _sleep(self, seconds: float) -> None:
        self._interruptibly(lambda: time.sleep(seconds) if seconds > 0 else None)

    def _shut_down(self) -> None:
        self._interruptible = False
        self.logger.info("stopping")
        if not self.spec.revoke_on_shutdown or self.store.token is None:
            return
        self.client.timeout, self.client.max_retries = SHUTDOWN_TIMEOUT, 0
        self.client.close()
        # Revoking the token revokes every lease it obtained; the default policy allows nothing more.
        self._quietly(self.client.revoke_self, what="token and its leases")
        self.store.dependencies.clear()
        self.store.token = None
        self.store.save()

    def _quietly(self, call: Callable[[], None], *, what: str) -> None:
        try:
            call()
            self.logger.info(f"revoked the {what}")
        except VaultError as error:
            self.logger.warn(f"could not revoke the {what}", cause=error.cause, error=str(error))
