// Package dependency mirrors the shapes of consul-template's dependency types
// that templates see, so Go prints the same type names (*dependency.Secret).
package dependency

import (
	"bytes"
	"encoding/json"
)

// Secret is what the secret function returns.
type Secret struct {
	RequestID     string
	LeaseID       string
	LeaseDuration int
	Renewable     bool
	Data          map[string]interface{}
	Warnings      []string
	Auth          *SecretAuth
	WrapInfo      *SecretWrapInfo
}

// SecretAuth holds auth information of a response.
type SecretAuth struct {
	ClientToken   string
	Accessor      string
	Policies      []string
	Metadata      map[string]string
	LeaseDuration int
	Renewable     bool
}

// SecretWrapInfo holds wrapping information; CreationTime stays text here.
type SecretWrapInfo struct {
	Token           string
	TTL             int
	CreationTime    string
	WrappedAccessor string
}

// PemEncoded is what pkiCert returns.
type PemEncoded struct {
	Cert, Key, CA string
	CAChain       []string
}

// Data mimics a KV v2 wrapper.
func (p PemEncoded) Data() PemEncoded { return p }

type apiAuth struct {
	ClientToken   string            `json:"client_token"`
	Accessor      string            `json:"accessor"`
	Policies      []string          `json:"policies"`
	Metadata      map[string]string `json:"metadata"`
	LeaseDuration int               `json:"lease_duration"`
	Renewable     bool              `json:"renewable"`
}

type apiWrap struct {
	Token           string `json:"token"`
	TTL             int    `json:"ttl"`
	CreationTime    string `json:"creation_time"`
	WrappedAccessor string `json:"wrapped_accessor"`
}

type apiSecret struct {
	RequestID     string                 `json:"request_id"`
	LeaseID       string                 `json:"lease_id"`
	LeaseDuration int                    `json:"lease_duration"`
	Renewable     bool                   `json:"renewable"`
	Data          map[string]interface{} `json:"data"`
	Warnings      []string               `json:"warnings"`
	Auth          *apiAuth               `json:"auth"`
	WrapInfo      *apiWrap               `json:"wrap_info"`
}

// FromVaultJSON decodes a Vault response body the way the Vault API client does
// (numbers as json.Number) and copies it the way consul-template does.
func FromVaultJSON(text string) (*Secret, error) {
	var raw apiSecret
	dec := json.NewDecoder(bytes.NewBufferString(text))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return nil, err
	}
	ours := &Secret{
		RequestID:     raw.RequestID,
		LeaseID:       raw.LeaseID,
		LeaseDuration: raw.LeaseDuration,
		Renewable:     raw.Renewable,
	}
	if len(raw.Data) != 0 {
		ours.Data = raw.Data
	}
	if len(raw.Warnings) != 0 {
		ours.Warnings = raw.Warnings
	}
	if raw.Auth != nil {
		ours.Auth = &SecretAuth{raw.Auth.ClientToken, raw.Auth.Accessor, nil, nil, raw.Auth.LeaseDuration, raw.Auth.Renewable}
		if len(raw.Auth.Policies) != 0 {
			ours.Auth.Policies = raw.Auth.Policies
		}
		if len(raw.Auth.Metadata) != 0 {
			ours.Auth.Metadata = raw.Auth.Metadata
		}
	}
	if raw.WrapInfo != nil {
		ours.WrapInfo = &SecretWrapInfo{raw.WrapInfo.Token, raw.WrapInfo.TTL, raw.WrapInfo.CreationTime, raw.WrapInfo.WrappedAccessor}
	}
	return ours, nil
}
