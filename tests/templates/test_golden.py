"""Golden outputs written from Go's and consul-template's documented behaviour.

Each expected text was written by hand from the documentation (Go's text/template and
fmt docs, consul-template's templating language docs, vault-k8s' default templates);
the differential tests check the same engine against Go itself.
"""

from __future__ import annotations

import pytest

from vaultinject import templates
from vaultinject.spec import DEFAULT_TEMPLATES

from .judge import Case, FakeSource

KV2_DB = (
    '{"request_id":"9c3b","lease_id":"","renewable":false,"lease_duration":0,'
    '"data":{"data":{"username":"app","password":"p@ss:w<rd>","port":5432,"ratio":0.75,'
    '"hosts":["db-1","db-2"],"options":{"sslmode":"verify-full","timeout":30}},'
    '"metadata":{"created_time":"2024-05-01T10:00:00.000000Z","custom_metadata":null,'
    '"deletion_time":"","destroyed":false,"version":4}},"wrap_info":null,"warnings":null,"auth":null}'
)
KV1_API = (
    '{"lease_duration":2764800,"renewable":false,"data":{"token":"abc123","url":"https://api","retries":3}}'
)
DB_CREDS = (
    '{"request_id":"1","lease_id":"database/creds/readonly/Xy7","lease_duration":3600,"renewable":true,'
    '"data":{"username":"v-k8s-readonly-Xy7","password":"A1a-ZzZz"},"warnings":null}'
)
PKI = (
    '{"lease_id":"","data":{"certificate":"-----BEGIN CERTIFICATE-----\\nLEAF\\n-----END CERTIFICATE-----",'
    '"issuing_ca":"-----BEGIN CERTIFICATE-----\\nCA\\n-----END CERTIFICATE-----",'
    '"ca_chain":["-----BEGIN CERTIFICATE-----\\nCA\\n-----END CERTIFICATE-----"],'
    '"private_key":"-----BEGIN EC PRIVATE KEY-----\\nKEY\\n-----END EC PRIVATE KEY-----",'
    '"private_key_type":"ec","serial_number":"1a:2b","expiration":1735689600}}'
)
SECRETS = {
    "secret/data/db": KV2_DB,
    "secret/api": KV1_API,
    "database/creds/readonly": DB_CREDS,
    "pki/issue/web": PKI,
}
LISTS = {"secret/metadata/apps": ["billing", "orders/", "web"]}
ENV = {"POD_NAME": "web-0", "REGION": "eu-west-1"}


def render(template: str, *, name: str = "golden", error_on_missing_key: bool = False) -> str:
    source = FakeSource(Case(template, secrets=SECRETS, lists=LISTS, env=ENV))
    return templates.parse(template, name=name).render(source, error_on_missing_key)


GOLDEN: list[tuple[str, str]] = [
    # vault-k8s default templates.
    (
        DEFAULT_TEMPLATES["map"] % "secret/api",
        "retries: 3\ntoken: abc123\nurl: https://api\n",
    ),
    (
        DEFAULT_TEMPLATES["json"] % "secret/api",
        '{"retries":3,"token":"abc123","url":"https://api"}\n',
    ),
    (
        DEFAULT_TEMPLATES["map"] % "secret/data/db",
        "data: map[hosts:[db-1 db-2] options:map[sslmode:verify-full timeout:30] password:p@ss:w<rd> "
        "port:5432 ratio:0.75 username:app]\n"
        "metadata: map[created_time:2024-05-01T10:00:00.000000Z custom_metadata:<nil> deletion_time: "
        "destroyed:false version:4]\n",
    ),
    (
        DEFAULT_TEMPLATES["json"] % "secret/data/db",
        '{"data":{"hosts":["db-1","db-2"],"options":{"sslmode":"verify-full","timeout":30},'
        '"password":"p@ss:w\\u003crd\\u003e","port":5432,"ratio":0.75,"username":"app"},'
        '"metadata":{"created_time":"2024-05-01T10:00:00.000000Z","custom_metadata":null,'
        '"deletion_time":"","destroyed":false,"version":4}}\n',
    ),
    # The documented KV v2 pattern, with trimming.
    (
        '{{- with secret "secret/data/db" -}}\n'
        "postgresql://{{ .Data.data.username }}:{{ .Data.data.password }}@{{ index .Data.data.hosts 0 }}"
        ":{{ .Data.data.port }}/app?sslmode={{ .Data.data.options.sslmode }}\n"
        "{{- end }}\n",
        "postgresql://app:p@ss:w<rd>@db-1:5432/app?sslmode=verify-full\n",
    ),
    (
        '{{ with secret "secret/data/db" }}\n'
        "{{- range $k, $v := .Data.data }}\n"
        'export {{ $k | toUpper }}="{{ $v }}"\n'
        "{{- end }}\n"
        "{{ end }}",
        '\nexport HOSTS="[db-1 db-2]"\nexport OPTIONS="map[sslmode:verify-full timeout:30]"\n'
        'export PASSWORD="p@ss:w<rd>"\nexport PORT="5432"\nexport RATIO="0.75"\nexport USERNAME="app"\n',
    ),
    # Nested ranges over maps (sorted keys) and lists.
    (
        '{{ with secret "secret/data/db" }}{{ range $k, $v := .Data }}[{{ $k }}]\n'
        "{{ range $k2, $v2 := $v }}{{ $k2 }}={{ $v2 }}\n{{ end }}{{ end }}{{ end }}",
        "[data]\nhosts=[db-1 db-2]\noptions=map[sslmode:verify-full timeout:30]\npassword=p@ss:w<rd>\n"
        "port=5432\nratio=0.75\nusername=app\n[metadata]\ncreated_time=2024-05-01T10:00:00.000000Z\n"
        "custom_metadata=<no value>\ndeletion_time=\ndestroyed=false\nversion=4\n",
    ),
    (
        '{{ range $i, $h := (secret "secret/data/db").Data.data.hosts }}{{ if $i }},{{ end }}{{ $h }}{{ end }}',
        "db-1,db-2",
    ),
    # Dynamic secrets and lease fields.
    (
        '{{ with secret "database/creds/readonly" }}{{ .Data.username }}/{{ .Data.password }} '
        "lease={{ .LeaseID }} ttl={{ .LeaseDuration }} renewable={{ .Renewable }}{{ end }}",
        "v-k8s-readonly-Xy7/A1a-ZzZz lease=database/creds/readonly/Xy7 ttl=3600 renewable=true",
    ),
    # A write with k=v parameters, and pkiCert's fields.
    (
        '{{ with secret "pki/issue/web" "common_name=web.example.com" "ttl=24h" }}{{ .Data.certificate }}\n'
        "{{ .Data.issuing_ca }}{{ end }}",
        "-----BEGIN CERTIFICATE-----\nLEAF\n-----END CERTIFICATE-----\n"
        "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----",
    ),
    (
        '{{ with pkiCert "pki/issue/web" "common_name=web.example.com" }}{{ .Cert }}{{ .CA }}{{ .Key }}'
        "{{ len .CAChain }}{{ .Data.Cert | len }}{{ end }}",
        "-----BEGIN CERTIFICATE-----\nLEAF\n-----END CERTIFICATE-----\n"
        "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n"
        "-----BEGIN EC PRIVATE KEY-----\nKEY\n-----END EC PRIVATE KEY-----\n159",
    ),
    ('{{ range secrets "secret/metadata/apps" }}{{ . }} {{ end }}', "billing orders/ web "),
    # Missing keys print Go's "<no value>" for map[string]interface{} (missingkey=zero).
    ('{{ with secret "secret/data/db" }}[{{ .Data.data.nope }}]{{ end }}', "[<no value>]"),
    ('{{ with secret "secret/nothing-here" }}found{{ else }}no secret{{ end }}', "no secret"),
    # printf verbs and Go's formatting of values.
    ('{{ printf "%5.2f|%-8s|%q|%x|%v" 3.14159 "ab" "q\\"" 255 (secret "secret/api").Data }}', ""),
    (
        '{{ printf "%d|%03d|%+d|%x|%X|%o|%b|%c|%U" 42 7 5 255 255 8 5 9731 9731 }}',
        "42|007|+5|ff|FF|10|101|☃|U+2603",
    ),
    ('{{ printf "%v %v %v %v" 1.0 1e6 0.000001 123456789.0 }}', "1 1e+06 1e-06 1.23456789e+08"),
    (
        '{{ printf "%s %d" "only" }}|{{ printf "%d" "x" }}|{{ printf "x" 1 }}',
        "only %!d(MISSING)|%!d(string=x)|x%!(EXTRA int=1)",
    ),
    ('{{ printf "%d" (secret "secret/data/db").Data.data.port }}', "%!d(json.Number=5432)"),
    ('{{ (secret "secret/data/db").Data.data.port.Int64 | printf "%05d" }}', "05432"),
    ('{{ print 1 2 "a" 3 }}|{{ println "x" 1 }}', "1 2a3|x 1\n"),
    # Comparisons: json.Number is a string in Go; ints and floats do not mix.
    (
        '{{ $p := (secret "secret/data/db").Data.data.port }}{{ eq $p "5432" }} {{ lt 1 2 }} {{ ge "b" "a" }}',
        "true true true",
    ),
    ('{{ if and 1 0 }}t{{ else }}f{{ end }}{{ or 0 "" "x" }}{{ not nil }}', "fxtrue"),
    # Escapers.
    (
        '{{ html "<a href=\\"x\\">O\'Neil & co</a>" }}',
        "&lt;a href=&#34;x&#34;&gt;O&#39;Neil &amp; co&lt;/a&gt;",
    ),
    ('{{ js "it\'s <b>\\"x\\"</b> = y" }}', 'it\\\'s \\u003Cb\\u003E\\"x\\"\\u003C/b\\u003E \\u003D y'),
    ('{{ urlquery "a b&c=d/é" }}', "a+b%26c%3Dd%2F%C3%A9"),
    # Trimming, from Go's documentation.
    ("{{23 -}} < {{- 45}}", "23<45"),
    ("a\n\n  {{- /* comment */ -}}  \n\nb", "ab"),
    # Variables, define/template/block.
    ('{{ $x := "a" }}{{ if true }}{{ $x = "b" }}{{ end }}{{ $x }}', "b"),
    (
        '{{ define "row" }}{{ .k }}={{ .v }};{{ end }}{{ template "row" (parseJSON "{\\"k\\":\\"a\\",\\"v\\":1}") }}',
        "a=1;",
    ),
    ('{{ block "footer" "default" }}[{{ . }}]{{ end }}', "[default]"),
    ('{{ with $x := 0 }}zero{{ else with "fallback" }}{{ . }}{{ end }}', "fallback"),
    (
        '{{ range $i, $e := split "," "a,b,c,d" }}{{ if eq $e "c" }}{{ break }}{{ end }}{{ $e }}{{ end }}',
        "ab",
    ),
    # consul-template helpers.
    ('{{ env "POD_NAME" }}.{{ env "REGION" }}{{ env "UNSET" }}', "web-0.eu-west-1"),
    (
        '{{ "a,b,c" | split "," | join ";" }} {{ "  x  " | trimSpace }} {{ replaceAll "-" "_" "a-b-c" }}',
        "a;b;c x a_b_c",
    ),
    (
        '{{ toLower "MiXeD" }} {{ toUpper "MiXeD" }} {{ toTitle "hello wide world" }}',
        "mixed MIXED Hello Wide World",
    ),
    (
        '{{ base64Encode "user:pass" }} {{ base64Decode "dXNlcjpwYXNz" }} {{ base64URLEncode "??>" }}',
        "dXNlcjpwYXNz user:pass Pz8-",
    ),
    ('{{ sha256Hex "hello" }}', "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"),
    ('{{ md5sum "hello" }}', "5d41402abc4b2a76b9719d911017c592"),
    ('{{ contains "b" "abc" }} {{ "abc" | contains "z" }}', "true false"),
    ('{{ (parseJSON "{\\"n\\":10,\\"big\\":2000000}").big }}', "2e+06"),
    (
        '{{ (secret "secret/data/db").Data.data | toJSONPretty }}',
        '{\n  "hosts": [\n    "db-1",\n    "db-2"\n  ],\n  "options": {\n    "sslmode": "verify-full",\n'
        '    "timeout": 30\n  },\n  "password": "p@ss:w\\u003crd\\u003e",\n  "port": 5432,\n'
        '  "ratio": 0.75,\n  "username": "app"\n}',
    ),
    (
        '{{ (secret "secret/data/db").Data.data | toYAML }}',
        "hosts:\n- db-1\n- db-2\noptions:\n  sslmode: verify-full\n  timeout: 30\npassword: p@ss:w<rd>\n"
        "port: 5432\nratio: 0.75\nusername: app",
    ),
    (
        '{{ (parseJSON "{\\"on\\":\\"yes\\",\\"empty\\":\\"\\",\\"multi\\":\\"a\\\\nb\\",\\"n\\":null}") | toYAML }}',
        'empty: ""\nmulti: |-\n  a\n  b\n"n": null\n"on": "yes"',
    ),
    (
        '{{ (secret "secret/data/db").Data.data | toTOML }}',
        'hosts = ["db-1", "db-2"]\npassword = "p@ss:w<rd>"\nport = 5432\nratio = 0.75\nusername = "app"\n\n'
        '[options]\n  sslmode = "verify-full"\n  timeout = 30',
    ),
]

# Rendered by hand from Go's fmt rules: %5.2f, %-8s, %q, %x and %v of a map (sorted keys).
GOLDEN[14] = (GOLDEN[14][0], ' 3.14|ab      |"q\\""|ff|map[retries:3 token:abc123 url:https://api]')


@pytest.mark.parametrize(("template", "expected"), GOLDEN)
def test_golden_output(template: str, expected: str) -> None:
    assert render(template) == expected


def test_missing_key_with_error_on_missing_key_names_the_annotation_line_and_column() -> None:
    template = '{{ with secret "secret/data/db" }}\nuser: {{ .Data.data.user }}\n{{ end }}'
    name = "vault.hashicorp.com/agent-inject-template-db"
    with pytest.raises(templates.MissingKeyError) as info:
        render(template, name=name, error_on_missing_key=True)
    assert str(info.value) == (
        f'{name}:2:14: executing "{name}" at <.Data.data.user>: map has no entry for key "user"'
    )
    # Go locates a field chain at its second field: the column is a 0-based byte offset.
    assert (info.value.line, info.value.column) == (2, 14)


def test_timestamp_formats_now_in_utc_with_go_layouts() -> None:
    import time

    before = int(time.time())
    unix = int(render('{{ timestamp "unix" }}'))
    assert before <= unix <= before + 5
    rfc3339 = render("{{ timestamp }}")
    assert len(rfc3339) == 20
    assert rfc3339.endswith("Z")
    assert rfc3339[4] == "-"
    assert rfc3339[10] == "T"
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert render('{{ timestamp "2006-01-02" }}') in (today, time.strftime("%Y-%m-%d", time.gmtime()))
    assert render('{{ timestamp "Mon Jan _2 15:04:05 MST 2006" }}').endswith(
        time.strftime("%Y", time.gmtime())
    )
