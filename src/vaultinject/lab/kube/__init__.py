"""A Kubernetes-compatible API server for the lab: real clients (the official Python client, kubectl 1.32,
lightkube) talk to it unchanged over HTTPS.

One job per module:
  server        HTTPS, routing, authn/authz in front of the handlers; `KubeServer` wires everything
  cli           `vaultinject lab kube --listen --data-dir --kubeconfig-out`
  harness       `running_kube` (subprocess) and `in_process_kube` (thread) for tests and drills
  routing       URL -> RequestInfo (verb, group, resource, subresource, namespace, name)
  handlers      the REST surface: CRUD, watch, subresources, reviews, discovery documents
  cluster       object semantics: create/replace/patch/list, defaults, admission, validation, generation
  deletion      grace periods, finalizers, propagation policies, namespace termination
  gc            garbage collector, namespace controller, and a kubelet stand-in for graceful pod deletion
  controllers   per-namespace `default` ServiceAccount and `kube-root-ca.crt`; legacy token Secrets
  bootstrap     system namespaces, bootstrap RBAC, the `kubernetes` Service
  store         SQLite-backed objects, global resourceVersion, watch fan-out and bounded history (410)
  watch         watch streams: resume, bookmarks, timeouts, selector transitions
  resources     the kind registry; views: events.k8s.io over core Events
  model         shared value types (UserInfo, Operation, AdmissionRequest, DeleteOptions)
  defaults, validation, shapes, plugins   per-kind defaults, validation, JSON type checks, built-in admission
  patching      JSON patch, merge patch, strategic merge patch (merge keys, directives)
  selectors     label and field selectors
  tokens, auth, rbac, impersonation, reviews   service-account tokens, authentication, RBAC, Impersonate-*
  admission     mutating and validating webhooks over verified TLS
  subresources  serviceaccounts/token, pods/eviction, pods/binding, */scale; logs: pods/log
  discovery, tables             discovery documents, Tables for kubectl
  schemas, protobuf, openapi    field tables of every served kind (schemas.json, generated from the
                                .proto files by tools/gen_kube_schemas.py); protobuf request bodies and
                                the OpenAPI v2/v3 documents, both read from those tables
  status, clock Status errors with the real reasons and texts; timestamps
"""
