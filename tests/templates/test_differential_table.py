"""Hand-picked tricky cases, each rendered by Go's text/template and by ours: same bytes, same errors."""

from __future__ import annotations

import pytest

from vaultinject.templates.values import JSONNumber, NilMap, NilStrList, StrList, StrMap

from .judge import Case, GoJudge, VaultJSON, render_ours

KV2 = (
    '{"request_id":"3f2a","lease_id":"","lease_duration":0,"renewable":false,'
    '"data":{"data":{"username":"app","password":"s3cr3t<&>","port":5432,"ratio":1.50,"big":1e3,'
    '"neg":-0.0,"on":true,"none":null,"tags":["a","b"],"nested":{"z":1,"a":[1,{"k":"v"}]}},'
    '"metadata":{"created_time":"2024-01-02T03:04:05Z","version":3,"deletion_time":"","destroyed":false}},'
    '"warnings":null,"auth":null}'
)
KV1 = '{"lease_duration":2764800,"renewable":false,"data":{"user":"bob","pass":"p w","n":7}}'
DYN = (
    '{"request_id":"r","lease_id":"database/creds/app/abc","lease_duration":3600,"renewable":true,'
    '"data":{"username":"v-app-1","password":"A1-b2"},"warnings":["careful"]}'
)
AUTH = (
    '{"auth":{"client_token":"hvs.x","accessor":"acc","policies":["a","b"],"metadata":{"role":"r"},'
    '"lease_duration":60,"renewable":true}}'
)
EMPTY = '{"request_id":"e","data":{}}'
PKI = (
    '{"data":{"certificate":"-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----",'
    '"private_key":"-----BEGIN RSA PRIVATE KEY-----\\nMIIE\\n-----END RSA PRIVATE KEY-----",'
    '"issuing_ca":"-----BEGIN CERTIFICATE-----\\nMIIC\\n-----END CERTIFICATE-----",'
    '"ca_chain":["-----BEGIN CERTIFICATE-----\\nMIIC\\n-----END CERTIFICATE-----"]}}'
)
SECRETS = {
    "secret/data/app": KV2,
    "secret/app": KV1,
    "db/creds/app": DYN,
    "auth/x": AUTH,
    "empty": EMPTY,
    "pki": PKI,
}

DATA = {
    "s": "hello",
    "e": "",
    "i": 42,
    "z": 0,
    "neg": -7,
    "f": 3.25,
    "big": 1e21,
    "tiny": 1e-7,
    "t": True,
    "n": None,
    "num": JSONNumber("12"),
    "fnum": JSONNumber("1.50"),
    "l": [1, "two", None, 3.5, True],
    "el": [],
    "strs": StrList(["b", "a", "c"]),
    "nilstrs": NilStrList(),
    "m": {"b": 2, "a": {"x": [1, 2]}, "c": None},
    "em": {},
    "nilmap": NilMap(),
    "sm": StrMap({"k": "v"}),
    "html": "<a href='x'>&\"</a>",
    "uni": "héllo wörld ✓",
    "ctl": "a\tb\nc\x01\x7f",
}

TABLE: list[tuple[str, object]] = [
    # Text, actions, comments, trimming.
    ("plain text only", None),
    ("", None),
    ("a {{/* comment */}} b", None),
    ("a  {{- /* c */ -}}  b", None),
    ("x \n\n {{- 1 -}} \n\n y", None),
    ("{{- 1}}{{2 -}}\n", None),
    ("{{ -1 }}{{-2}}", None),
    ("line1\n  {{- if true }}\n  yes\n  {{- end }}\nline2", None),
    ("{{ .s }}{{.i}}{{ .f }}{{.t}}{{ .n }}", DATA),
    ("{{ . }}", DATA),
    ("{{ .m }} {{ .l }} {{ .el }} {{ .em }} {{ .nilmap }} {{ .nilstrs }} {{ .sm }}", DATA),
    ("{{ .missing }}|{{ .m.missing }}|{{ .sm.missing }}|", DATA),
    ("{{ .m.c.x }}", DATA),
    ("{{ .n.x }}", DATA),
    ("{{ .s.x }}", DATA),
    ("{{ .missing.x }}", DATA),
    ("{{ .l.x }}", DATA),
    # Missing keys in every mode are covered by MISSING_KEY_TEMPLATES below.
    # Literals.
    (
        "{{ 1 }} {{ -1 }} {{ +1 }} {{ 1.0 }} {{ 1e3 }} {{ 0x1F }} {{ 0o17 }} {{ 017 }} {{ 0b101 }} {{ 1_000 }}",
        None,
    ),
    (
        "{{ 'a' }} {{ '\\n' }} {{ '\\x41' }} {{ '\\u00e9' }} {{ 1.5e-7 }} {{ 0x1p4 }} {{ 2i }} {{ 1+2i }}",
        None,
    ),
    ('{{ "a\\tb" }}{{ `raw\\n` }}{{ "\\u00e9\\x41\\101" }}', None),
    ("{{ 99999999999999999999 }}", None),
    ("{{ 1e400 }}", None),
    ("{{ 0x }}", None),
    ("{{ 'ab' }}", None),
    ("{{ '' }}", None),
    ('{{ "\\q" }}', None),
    ("{{ nil }}", None),
    ("{{ true }} {{ false }}", None),
    ("{{ 18446744073709551615 }}", None),
    ("{{ -9223372036854775808 }} {{ 9223372036854775807 }}", None),
    # Variables.
    ("{{ $x := 1 }}{{ $x }}{{ $x = 2 }}{{ $x }}", None),
    ("{{ $ }}", DATA),
    ("{{ $.s }}{{ with .m }}{{ $.i }}{{ .b }}{{ end }}", DATA),
    ("{{ $x := .m }}{{ $x.a.x }}{{ $x.b }}", DATA),
    ("{{ range $i, $v := .l }}{{ $i }}:{{ $v }} {{ end }}", DATA),
    ("{{ range $k, $v := .m }}{{ $k }}={{ $v }};{{ end }}", DATA),
    ("{{ range $v := .strs }}{{ $v }}{{ end }}", DATA),
    ("{{ range .l }}[{{ . }}]{{ end }}", DATA),
    ("{{ range .l }}{{ .x }}{{ end }}", DATA),
    ("{{ range .el }}x{{ else }}empty{{ end }}{{ range .nilmap }}x{{ else }}nil{{ end }}", DATA),
    ("{{ range .n }}x{{ else }}none{{ end }}", DATA),
    ("{{ range .i }}x{{ end }}", DATA),
    ("{{ range .s }}x{{ end }}", DATA),
    ('{{ range $i, $e := .strs }}{{ if eq $e "a" }}{{ break }}{{ end }}{{ $i }}{{ end }}', DATA),
    ("{{ range .l }}{{ if not . }}{{ continue }}{{ end }}<{{ . }}>{{ end }}", DATA),
    ("{{ range $a := .m }}{{ range $b := .x }}{{ $b }}{{ end }}{{ end }}", DATA),
    (
        "{{ range $k, $v := .m }}{{ range $k2, $v2 := $v }}{{ $k }}.{{ $k2 }}={{ $v2 }} {{ end }}{{ end }}",
        DATA,
    ),
    ("{{ $x := 1 }}{{ if true }}{{ $x := 2 }}{{ $x }}{{ end }}{{ $x }}", None),
    ("{{ $x := 1 }}{{ range .l }}{{ $x = . }}{{ end }}{{ $x }}", DATA),
    ("{{ $undefined }}", None),
    ("{{ range $i, $v, $w := .l }}{{ end }}", DATA),
    ("{{ $x, $y := 1 }}", None),
    # Conditionals.
    (
        "{{ if .t }}T{{ else }}F{{ end }}{{ if .z }}T{{ else if .e }}E{{ else if .s }}S{{ else }}N{{ end }}",
        DATA,
    ),
    (
        "{{ if .el }}x{{ end }}{{ if .em }}x{{ end }}{{ if .n }}x{{ end }}{{ if .f }}f{{ end }}{{ if .num }}n{{ end }}",
        DATA,
    ),
    ("{{ with .m.a }}{{ .x }}{{ end }}{{ with .missing }}x{{ else }}no{{ end }}", DATA),
    ("{{ with $x := .i }}{{ $x }}{{ . }}{{ end }}", DATA),
    ("{{ if }}{{ end }}", None),
    ("{{ if .t }}", None),
    ("{{ end }}", None),
    ("{{ else }}", None),
    ("{{ with .t }}{{ else if .t }}{{ end }}", DATA),
    ("{{ range .l }}{{ else if .t }}{{ end }}", DATA),
    ("{{ break }}", None),
    ("{{ range .l }}{{ break 1 }}{{ end }}", DATA),
    # Templates.
    ('{{ define "x" }}<{{ . }}>{{ end }}{{ template "x" .s }}{{ template "x" }}', DATA),
    ('{{ block "b" .i }}[{{ . }}]{{ end }}', DATA),
    ('{{ define "b" }}override{{ end }}{{ block "b" . }}default{{ end }}', DATA),
    ('{{ template "nope" }}', None),
    ('{{ define "r" }}{{ template "r" }}{{ end }}', None),
    ('{{ define "x" }}a{{ end }}{{ define "x" }}b{{ end }}', None),
    ('{{ define "x" }}  {{ end }}{{ define "x" }}b{{ end }}{{ template "x" }}', None),
    ('{{ define "" }}main{{ end }}', None),
    ('{{ define "x" }}{{ $ }}{{ end }}{{ $y := 5 }}{{ template "x" $y }}', None),
    ("{{ define x }}{{ end }}", None),
    # Pipelines and parentheses.
    ('{{ .s | printf "%s!" }}{{ .i | printf "%d-%d" 1 }}', DATA),
    ('{{ (.m).b }}{{ (index .l 1) }}{{ (len .s) | printf "%03d" }}', DATA),
    ('{{ "x" | "y" }}', None),
    ("{{ .s | .i }}", DATA),
    ("{{ 1 2 }}", None),
    ("{{ .s 1 }}", DATA),
    ("{{ (1) 2 }}", None),
    ("{{ nil.x }}", None),
    ("{{ (nil).x }}", None),
    ("{{ ( }}", None),
    ("{{ ) }}", None),
    ("{{ .s | }}", DATA),
    ("{{ | }}", None),
    ("{{ .s\n}}", DATA),
    ('{{ .s\n| printf "%q" }}', DATA),
    ("{{ .s ", DATA),
    ('{{ "unterminated }}', None),
    ("{{ `raw\nstring` }}", None),
    ("{{ /* x */ }}", None),
    ("{{/* unclosed", None),
    ("{{ @ }}", None),
    ("{{ .a-b }}", DATA),
    ("{{ $x:=1 }}{{$x}}", None),
    ("{{ $x : 1 }}", None),
    ("{{ 3 | not }}", None),
    ("{{ unknownfn 1 }}", None),
    # Builtins.
    ("{{ len .s }} {{ len .l }} {{ len .m }} {{ len .uni }} {{ len .strs }} {{ len .nilmap }}", DATA),
    ("{{ len .i }}", DATA),
    ("{{ len .n }}", DATA),
    ("{{ len .missing }}", DATA),
    ("{{ len nil }}", None),
    ('{{ index .l 1 }} {{ index .m "b" }} {{ index .m "zz" }} {{ index .s 0 }} {{ index .strs 2 }}', DATA),
    ('{{ index .m.a "x" 1 }} {{ index .sm "k" }}|{{ index .sm "zz" }}|', DATA),
    ("{{ index .l 5 }}", DATA),
    ("{{ index .l 4 }}|{{ index .l -1 }}", DATA),
    ("{{ index .l 5 }}", DATA),
    ("{{ index .m 1 }}", DATA),
    ("{{ index .i 1 }}", DATA),
    ("{{ index nil 1 }}", None),
    ("{{ index .l }}", DATA),
    ('{{ index .l "x" }}', DATA),
    ("{{ slice .s 1 3 }} {{ slice .s 2 }} {{ slice .s }} {{ slice .l 1 2 }} {{ slice .strs 1 }}", DATA),
    ("{{ slice .l 1 2 3 }} {{ slice .s 3 1 }}", DATA),
    ("{{ slice .s 1 2 3 }}", DATA),
    ("{{ slice .s 9 }}", DATA),
    ("{{ slice .i 1 }}", DATA),
    ("{{ slice .s .z }}", DATA),
    ('{{ range .strs }}{{ slice "abc" 1 (len .) }}{{ end }}', DATA),
    ("{{ $one := 1 }}{{ slice .s $one }}", DATA),
    ('{{ print 1 2 }} {{ print "a" "b" }} {{ print 1 "a" 2 }} {{ print nil }} {{ print .n }}', DATA),
    ('{{ println 1 "a" .l }}{{ println }}|', DATA),
    ("{{ print }}|{{ print .m .l .s }}", DATA),
    ('{{ printf "%5.2f|%-8s|%q|%x|%v" 3.14159 "ab" "h\\"i" 255 .m }}', DATA),
    (
        '{{ printf "%d %5d %-5d| %05d %+d %x %X %o %O %b %c %q %U %#U" 42 42 42 -42 42 255 255 8 8 5 65 65 233 233 }}',
        None,
    ),
    (
        '{{ printf "%e %E %f %F %g %G %.3e %.3f %.3g %8.3f %-8.3f| %+.2f % .2f %08.3f" 1234.5678 1234.5678 '
        "1234.5678 1234.5678 1234.5678 1234.5678 1234.5678 1234.5678 1234.5678 3.14159 3.14159 3.14159 3.14159 "
        "-3.14159 }}",
        None,
    ),
    ('{{ printf "%v %v %v %v %v %v %v" 1e6 1e21 1e-5 0.0001 123456789.0 100000.0 1e20 }}', None),
    ('{{ printf "%x %X %#x %b %.2x % x %#v %T" 3.5 -0.5 1.0 2.0 "ab" "abc" 1.0 1.5 }}', None),
    (
        '{{ printf "%s %q %x % X %#q %10s|%-10s|%.2s %5.1s|" "héllo" "a\\nb" "hi" "hi" "`x`" "r" "l" "abc" "xyz" }}',
        None,
    ),
    ('{{ printf "%v %+v %#v %T" .m .m .m .m }}', DATA),
    ('{{ printf "%v %#v %T %d %s" .l .l .l .l .l }}', DATA),
    ('{{ printf "%v %d %s %q %x %T %#v" .num .num .num .num .num .num .num }}', DATA),
    ('{{ printf "%v|%s|%d|%T" .n .n .n .n }}', DATA),
    (
        '{{ printf "%d %d" 1 }}|{{ printf "%d" 1 2 }}|{{ printf "%!" }}|{{ printf "%z" 1 }}|{{ printf "%" }}',
        None,
    ),
    ('{{ printf "%[2]d %[1]d %[3]d %[x]d" 1 2 }}|{{ printf "%*d|%-*d|%.*f" 5 1 4 2 2 3.14159 }}', None),
    ('{{ printf "%t %t %v %s" true false true true }}', None),
    ('{{ printf "%v %s %d" .strs .sm .strs }}', DATA),
    ('{{ printf "%c %c %q %U" -1 1114112 -1 -1 }}', None),
    ('{{ printf "%6.2v|%-6v|%06v" 3.14159 "ab" 42 }}', None),
    ('{{ printf "%v %.3v %10.4v" 1i 1.5i 2.5 }}', None),
    ('{{ printf "%#o %#b %#X %x" 8 5 255 -255 }}', None),
    ("{{ html .html }} {{ html 1 2 }} {{ html .n }} {{ html .missing }} {{ html nil }}", DATA),
    ('{{ js .html }} {{ js .ctl }} {{ js .uni }} {{ js "a=b" }}', DATA),
    ('{{ urlquery .html }} {{ urlquery .uni }} {{ urlquery "a b+c/d?e=f" }} {{ urlquery 1 "x" }}', DATA),
    ('{{ and 1 0 2 }} {{ and 1 2 }} {{ or 0 "" }} {{ or 0 3 }} {{ and }} ', None),
    ("{{ and .t .s }} {{ or .n .e .z }} {{ not .e }} {{ not .l }} {{ and .missing.x 1 }}", DATA),
    ("{{ or 1 .missing.x }} {{ and 0 (index .l 99) }}", DATA),
    ("{{ and 1 (index .l 99) }}", DATA),
    ("{{ .t | and 1 }} {{ .z | or 0 }} {{ 0 | and 1 }}", DATA),
    ("{{ not }}", None),
    ("{{ not 1 2 }}", None),
    # Comparisons.
    ('{{ eq 1 1 }} {{ eq 1 2 }} {{ eq 1 2 1 }} {{ eq "a" "a" }} {{ eq .s "hello" }} {{ ne 1 2 }}', DATA),
    ("{{ eq 1 1.0 }}", None),
    ("{{ lt 1 1.5 }}", None),
    ('{{ eq .num "12" }} {{ eq .num 12 }}', DATA),
    ('{{ lt .num "2" }} {{ gt "b" "a" }} {{ le 2 2 }} {{ ge 1.5 2.5 }} {{ lt -1 0 }}', DATA),
    (
        '{{ eq .n nil }} {{ eq .missing nil }} {{ eq .missing "x" }} {{ eq "x" .missing }} {{ eq .t true }}',
        DATA,
    ),
    ("{{ eq .m .m }}", DATA),
    ("{{ eq .l .m }}", DATA),
    ("{{ eq .nilmap nil }} {{ eq .em nil }}", DATA),
    ("{{ lt true false }}", None),
    ("{{ lt .l 1 }}", DATA),
    ("{{ eq 1 }}", None),
    ("{{ eq }}", None),
    ("{{ lt 1 2 3 }}", None),
    ("{{ eq (index .s 0) 104 }} {{ lt (index .s 0) 105 }} {{ eq 104 (index .s 0) }}", DATA),
    ("{{ eq 1i 1i }} {{ lt 1i 2i }}", None),
    # call.
    ("{{ call .s }}", DATA),
    ("{{ call nil }}", None),
    # Function argument typing.
    ("{{ printf 1 }}", None),
    ("{{ printf .i }}", DATA),
    ("{{ printf .num }}", DATA),
    ("{{ printf .missing }}", DATA),
    ("{{ printf nil }}", None),
    ("{{ printf }}", None),
    ("{{ .s.Upper }}", DATA),
    (
        '{{ .num.Int64 }} {{ .num.Float64 }} {{ .num.String }} {{ .fnum.Float64 }} {{ printf "%T" .num.Int64 }}',
        DATA,
    ),
    ("{{ .fnum.Int64 }}", DATA),
    ("{{ .num.Int64 1 }}", DATA),
    # Delimiters.
    ("[[ .s ]] {{ .s }} [[- .i -]] [[/* c */]]", DATA),
]

DELIM_TABLE: list[tuple[str, tuple[str, str]]] = [
    ("[[ .s ]] {{ .s }} [[- .i -]] [[/* c */]]", ("[[", "]]")),
    ("<% .s %> <%- .i -%> <% if .t %>yes<% end %>", ("<%", "%>")),
    ("{{ .s }} {% .s %}", ("{%", "%}")),
    ("(( .s ))", ("((", "))")),
    ("$$ .s ## $$-.i-##", ("$$", "##")),
]

CONSUL_TABLE: list[str] = [
    '{{ with secret "secret/data/app" }}{{ .Data.data.username }}:{{ .Data.data.password }}{{ end }}',
    '{{ with secret "secret/data/app" }}{{ range $k, $v := .Data.data }}{{ $k }}={{ $v }}\n{{ end }}{{ end }}',
    '{{ with secret "secret/data/app" }}{{ .Data.metadata.version }} {{ .Data.data.missing }} {{ .RequestID }}{{ end }}',
    '{{ with secret "secret/data/app" }}{{ .Data.data | toJSON }}{{ end }}',
    '{{ with secret "secret/data/app" }}{{ .Data | toJSONPretty }}{{ end }}',
    '{{ with secret "secret/data/app" }}{{ .Data.data | toUnescapedJSON }}|{{ .Data.data.tags | toUnescapedJSONPretty }}{{ end }}',
    '{{ with secret "secret/data/app" }}{{ . }}{{ end }}',
    '{{ with secret "secret/data/app" }}{{ printf "%v|%+v" . .Data.data.nested }}{{ end }}',
    '{{ secret "secret/data/app" | toJSON }}',
    '{{ (secret "secret/data/app").Data.data.port }} {{ (secret "missing").Data }}',
    '{{ with secret "missing" }}found{{ else }}absent{{ end }}',
    '{{ with secret "secret/app" }}{{ range $k, $v := .Data }}{{ $k }}: {{ $v }}\n{{ end }}{{ end }}',
    '{{ with secret "secret/app" }}{{ .Data | toJSON }}\n{{ end }}',
    '{{ with secret "secret/data/app" }}{{ range $k, $v := .Data }}{{ $k }}: {{ $v }}\n{{ end }}{{ end }}',
    '{{ with secret "db/creds/app" }}{{ .LeaseID }} {{ .LeaseDuration }} {{ .Renewable }} {{ .Warnings }} '
    "{{ .Data.username }}{{ end }}",
    '{{ with secret "auth/x" }}{{ .Auth.ClientToken }} {{ .Auth.Policies }} {{ .Auth.Metadata.role }}|'
    "{{ .Auth.Metadata.zz }}|{{ .Data }} {{ .Data | toJSON }}{{ end }}",
    '{{ with secret "secret/app" }}{{ .Auth }}|{{ .Auth.ClientToken }}{{ end }}',
    '{{ with secret "secret/app" }}{{ .Auth.Nope }}{{ end }}',
    '{{ with secret "secret/app" }}{{ .Nope }}{{ end }}',
    '{{ with secret "empty" }}{{ .Data }}|{{ .Data | toJSON }}|{{ .Warnings | toJSON }}|{{ len .Data }}{{ end }}',
    '{{ with secret "secret/app" "a=b" " c = d " "" }}{{ .Data.user }}{{ end }}',
    '{{ secret "secret/app" "novalue" }}',
    "{{ secret }}|{{ secret | len }}",
    '{{ with pkiCert "pki" "common_name=x" }}{{ .Cert }}{{ .Key }}{{ .CA }}{{ .CAChain }}{{ .Data.Cert }}{{ end }}',
    '{{ with pkiCert "pki" }}{{ . | toJSON }}{{ end }}',
    '{{ range secrets "secret/metadata/" }}{{ . }};{{ end }}{{ secrets "" | len }}',
    '{{ env "HOME" }}|{{ env "NOPE" }}|{{ envOrDefault "NOPE" "dflt" }}|{{ envOrDefault "EMPTY" "dflt" }}|{{ mustEnv "HOME" }}',
    '{{ mustEnv "NOPE" }}',
    '{{ "a,b,,c" | split "," }} {{ split "," "" | len }} {{ split "" "abc" }} {{ split "," " x,y " | join "+" }}',
    '{{ join "," .l }}',
    '{{ "  pad\\t" | trimSpace }}|{{ trim "x" "xxaxx" }}|{{ trimPrefix "a" "abc" }}|{{ trimSuffix "c" "abc" }}',
    '{{ replaceAll "a" "b" "banana" }} {{ replaceAll "" "-" "abc" }} {{ toLower "ÀBC" }} {{ toUpper "straße é" }}',
    '{{ base64Encode "hello wörld" }} {{ base64URLEncode "\\xff\\xfe>?" }} {{ "aGk=" | base64Decode }} '
    '{{ "_-8=" | base64URLDecode | printf "%q" }}',
    '{{ base64Decode "not base64!" }}',
    '{{ sha256Hex "abc" }} {{ md5sum "abc" }} {{ md5sum "" }}',
    '{{ contains "b" "abc" }} {{ contains "z" "abc" }} {{ "x" | contains "x" }} {{ contains 2 .l }} '
    '{{ contains "two" .l }} {{ contains "a" .strs }} {{ in .strs "c" }}',
    "{{ containsAll .l .l }} {{ containsAny .l .strs }} {{ containsNone .l .l }} {{ containsNotAll .l .l }}",
    "{{ containsAll .strs .strs }}",
    '{{ parseJSON "{\\"a\\":1,\\"b\\":[1.5,\\"x\\",null,true],\\"c\\":1000000}" }} {{ (parseJSON "[1]") | len }}',
    '{{ (parseJSON "{\\"port\\":8080}").port }} {{ parseJSON "" }} {{ parseJSON "null" }}|{{ parseJSON "null" | toJSON }}',
    '{{ parseJSON "{bad" }}',
    "{{ toJSON .m }} {{ toJSON .n }} {{ toJSON .f }} {{ toJSON .big }} {{ toJSON .tiny }} {{ toJSON .html }} "
    "{{ toJSON .ctl }} {{ toJSON .nilmap }} {{ toJSON .nilstrs }} {{ toJSON .sm }} {{ toJSON .num }}",
    "{{ toJSONPretty .m }}|{{ toJSONPretty .el }}|{{ toJSONPretty .em }}|{{ toJSONPretty 1 }}",
    "{{ toJSON 1i }}",
    '{{ indent 2 "a\\nb\\n\\nc" }}|{{ indent 0 "x" }}',
    '{{ indent -1 "x" }}',
    '{{ parseBool "true" }} {{ parseBool "" }} {{ parseInt "-42" }} {{ parseFloat "1.5e3" }} {{ parseInt "" }}',
    '{{ parseInt "1.5" }}',
    '{{ parseFloat "0 " }}',
    '{{ parseFloat "inf" }} {{ parseFloat "-Infinity" }} {{ parseFloat "1_0.5" }}',
    '{{ parseFloat "1e400" }}',
    '{{ base64Decode "0\r" }}',
    '{{ base64Decode "YQ==\nYQ" }}',
    '{{ base64Decode "YQ=" }}',
    '{{ base64Decode "Y\nQ\r\n=\n=" }}',
    '{{ parseBool "maybe" }}',
    "{{ toUpper .num }}",
    '{{ split "," }}',
]


def _assert_same(go_judge: GoJudge, case: Case) -> None:
    expected = go_judge.render(case)
    actual = render_ours(case)
    assert actual.ok == expected.ok, (case.template, expected, actual)
    if expected.ok:
        assert actual.out == expected.out, case.template
    else:
        assert actual.err == expected.err, case.template


@pytest.mark.parametrize(("template", "data"), TABLE)
def test_go_builtin_behaviour(go_judge: GoJudge, template: str, data: object) -> None:
    _assert_same(go_judge, Case(template, data))


@pytest.mark.parametrize(("template", "delims"), DELIM_TABLE)
def test_custom_delimiters(go_judge: GoJudge, template: str, delims: tuple[str, str]) -> None:
    _assert_same(go_judge, Case(template, DATA, delims=delims))


@pytest.mark.parametrize("template", CONSUL_TABLE)
def test_consul_template_functions(go_judge: GoJudge, template: str) -> None:
    case = Case(
        template,
        DATA,
        secrets=SECRETS,
        lists={"secret/metadata/": ["a", "b/", "c"]},
        env={"HOME": "/home/vault", "EMPTY": ""},
    )
    _assert_same(go_judge, case)


MISSING_KEY_TEMPLATES = [
    "{{ .missing }}",
    "{{ .m.missing }}",
    "{{ .missing.x }}",
    "{{ .sm.missing }}",
    '{{ index .m "missing" }}',
    "{{ with .missing }}x{{ else }}y{{ end }}",
    "{{ if .m.missing }}x{{ end }}",
    "{{ .n }}",
    "{{ $x := .missing }}{{ $x.y }}",
    "{{ len .missing }}",
    '{{ printf "%v" .missing }}',
    '{{ .missing | printf "%v" }}',
    "{{ toUpper .missing }}",
    "{{ toUpper .m.missing }}",
    '{{ with secret "secret/data/app" }}{{ .Data.data.nope }}{{ end }}',
    "{{ .x }}",
]


@pytest.mark.parametrize("mode", ["zero", "error", "invalid"])
@pytest.mark.parametrize("template", MISSING_KEY_TEMPLATES)
def test_missing_keys_in_every_mode(go_judge: GoJudge, template: str, mode: str) -> None:
    data = None if template == "{{ .x }}" else DATA
    _assert_same(go_judge, Case(template, data, missingkey=mode, secrets=SECRETS))


def test_vault_json_data_renders_like_go(go_judge: GoJudge) -> None:
    case = Case("{{ .Data.data.port }} {{ .LeaseDuration }} {{ .Data }}", VaultJSON(KV2))
    _assert_same(go_judge, case)
