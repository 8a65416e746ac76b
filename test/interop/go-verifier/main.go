// A relying service written with nothing but Go's standard library (crypto/x509,
// crypto/tls, net/http), the way a Go microservice checks Tessera identities.
// The interop tests build it with the system's Go and drive it; it prints JSON and
// exits non-zero with the library's own error when Go rejects what it was given.
package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fail(errors.New("usage: go-verifier verify|crl|client|server [flags]"))
	}
	var err error
	switch os.Args[1] {
	case "verify":
		err = verifyCmd(os.Args[2:])
	case "crl":
		err = crlCmd(os.Args[2:])
	case "client":
		err = clientCmd(os.Args[2:])
	case "server":
		err = serverCmd(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

func printJSON(v any) {
	out, _ := json.Marshal(v)
	fmt.Println(string(out))
}

func readCerts(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s: no certificate", path)
	}
	return certs, nil
}

func pool(certs []*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

// readCRL accepts DER or PEM ("X509 CRL").
func readCRL(path string) (*x509.RevocationList, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if block, _ := pem.Decode(data); block != nil {
		if block.Type != "X509 CRL" {
			return nil, fmt.Errorf("%s: PEM type %q is not X509 CRL", path, block.Type)
		}
		data = block.Bytes
	}
	return x509.ParseRevocationList(data)
}

var (
	oidReasonCode = asn1.ObjectIdentifier{2, 5, 29, 21}
	oidAKI        = asn1.ObjectIdentifier{2, 5, 29, 35}
)

// keyIdentifier reads the AKI extension itself: Go before 1.21 puts the whole
// extension value in RevocationList.AuthorityKeyId rather than the key identifier.
func keyIdentifier(crl *x509.RevocationList) (string, error) {
	for _, ext := range crl.Extensions {
		if !ext.Id.Equal(oidAKI) {
			continue
		}
		var aki struct {
			ID []byte `asn1:"optional,tag:0"`
		}
		if rest, err := asn1.Unmarshal(ext.Value, &aki); err != nil || len(rest) != 0 {
			return "", fmt.Errorf("malformed authorityKeyIdentifier: %v", err)
		}
		return fmt.Sprintf("%x", aki.ID), nil
	}
	return "", errors.New("CRL has no authorityKeyIdentifier")
}

type revoked struct {
	Serial string `json:"serial"`
	Reason int    `json:"reason"`
}

// checkCRL is what a relying service does with a CRL: signed by the certificate's
// issuer, current, and the serial not in it.
func checkCRL(crl *x509.RevocationList, issuer *x509.Certificate, now time.Time) error {
	if err := crl.CheckSignatureFrom(issuer); err != nil {
		return fmt.Errorf("CRL signature: %w", err)
	}
	if now.Before(crl.ThisUpdate) || now.After(crl.NextUpdate) {
		return fmt.Errorf("CRL not current: thisUpdate %s, nextUpdate %s", crl.ThisUpdate, crl.NextUpdate)
	}
	return nil
}

func verifyCmd(args []string) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	chainPath := fs.String("chain", "", "PEM: the leaf, then intermediates")
	bundlePath := fs.String("bundle", "", "PEM trust bundle (roots)")
	crlPath := fs.String("crl", "", "the issuing CA's CRL (DER or PEM); optional")
	usage := fs.String("usage", "client", "client or server")
	if err := fs.Parse(args); err != nil {
		return err
	}
	chain, err := readCerts(*chainPath)
	if err != nil {
		return err
	}
	roots, err := readCerts(*bundlePath)
	if err != nil {
		return err
	}
	eku := x509.ExtKeyUsageClientAuth
	if *usage == "server" {
		eku = x509.ExtKeyUsageServerAuth
	}
	leaf := chain[0]
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots:         pool(roots),
		Intermediates: pool(chain[1:]),
		KeyUsages:     []x509.ExtKeyUsage{eku},
	})
	if err != nil {
		return err
	}
	if len(leaf.URIs) != 1 || leaf.URIs[0].Scheme != "spiffe" {
		return fmt.Errorf("want exactly one spiffe:// URI SAN, have %v", leaf.URIs)
	}
	if *crlPath != "" {
		crl, err := readCRL(*crlPath)
		if err != nil {
			return err
		}
		if err := checkCRL(crl, chains[0][1], time.Now()); err != nil {
			return err
		}
		for _, r := range crl.RevokedCertificates {
			if r.SerialNumber.Cmp(leaf.SerialNumber) == 0 {
				return fmt.Errorf("certificate %x is revoked", leaf.SerialNumber)
			}
		}
	}
	printJSON(map[string]any{
		"spiffe_id":    leaf.URIs[0].String(),
		"dns_names":    leaf.DNSNames,
		"serial":       fmt.Sprintf("%x", leaf.SerialNumber),
		"chain_length": len(chains[0]),
	})
	return nil
}

func crlCmd(args []string) error {
	fs := flag.NewFlagSet("crl", flag.ContinueOnError)
	crlPath := fs.String("crl", "", "CRL (DER or PEM)")
	issuerPath := fs.String("issuer", "", "PEM: the issuing CA certificate")
	if err := fs.Parse(args); err != nil {
		return err
	}
	crl, err := readCRL(*crlPath)
	if err != nil {
		return err
	}
	issuers, err := readCerts(*issuerPath)
	if err != nil {
		return err
	}
	if err := checkCRL(crl, issuers[0], time.Now()); err != nil {
		return err
	}
	aki, err := keyIdentifier(crl)
	if err != nil {
		return err
	}
	list := []revoked{}
	for _, r := range crl.RevokedCertificates {
		entry := revoked{Serial: fmt.Sprintf("%x", r.SerialNumber), Reason: -1}
		for _, ext := range r.Extensions {
			if ext.Id.Equal(oidReasonCode) {
				var reason asn1.Enumerated
				if _, err := asn1.Unmarshal(ext.Value, &reason); err != nil {
					return fmt.Errorf("reasonCode of %s: %w", entry.Serial, err)
				}
				entry.Reason = int(reason)
			}
		}
		list = append(list, entry)
	}
	printJSON(map[string]any{
		"number":      crl.Number.String(),
		"this_update": crl.ThisUpdate.UTC().Format(time.RFC3339),
		"next_update": crl.NextUpdate.UTC().Format(time.RFC3339),
		"aki":         aki,
		"revoked":     list,
	})
	return nil
}

func tlsConfig(certPath, keyPath, bundlePath string) (*tls.Config, *x509.CertPool, error) {
	pair, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return nil, nil, err
	}
	roots, err := readCerts(bundlePath)
	if err != nil {
		return nil, nil, err
	}
	p := pool(roots)
	return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, p, nil
}

// clientCmd calls a Tessera endpoint over mutual TLS with a workload's SVID.
func clientCmd(args []string) error {
	fs := flag.NewFlagSet("client", flag.ContinueOnError)
	url := fs.String("url", "", "https URL")
	certPath := fs.String("cert", "", "PEM: the SVID chain")
	keyPath := fs.String("key", "", "PEM: its private key")
	bundlePath := fs.String("bundle", "", "PEM trust bundle")
	body := fs.String("body", "", "JSON body to POST; GET without")
	serverID := fs.String("server-id", "", "authorize the server by this SPIFFE ID instead of its host name")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, roots, err := tlsConfig(*certPath, *keyPath, *bundlePath)
	if err != nil {
		return err
	}
	cfg.RootCAs = roots
	if *serverID != "" {
		// SPIFFE authorization, as go-spiffe's tlsconfig.AuthorizeID does it: the chain
		// to the bundle and the exact URI SAN stand in for the host name check.
		cfg.InsecureSkipVerify = true
		cfg.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			return authorizeID(raw, roots, *serverID)
		}
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 10 * time.Second}
	var resp *http.Response
	if *body == "" {
		resp, err = client.Get(*url)
	} else {
		resp, err = client.Post(*url, "application/json", strings.NewReader(*body))
	}
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	peer := resp.TLS.PeerCertificates[0]
	uris := make([]string, len(peer.URIs))
	for i, u := range peer.URIs {
		uris[i] = u.String()
	}
	printJSON(map[string]any{"status": resp.StatusCode, "body": string(data), "server_uris": uris})
	return nil
}

func authorizeID(raw [][]byte, roots *x509.CertPool, want string) error {
	if len(raw) == 0 {
		return errors.New("no server certificate")
	}
	certs := make([]*x509.Certificate, len(raw))
	for i, der := range raw {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return err
		}
		certs[i] = c
	}
	leaf := certs[0]
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: pool(certs[1:]),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}); err != nil {
		return err
	}
	if len(leaf.URIs) != 1 || leaf.URIs[0].String() != want {
		return fmt.Errorf("server is %v, want %s", leaf.URIs, want)
	}
	return nil
}

// serverCmd is a Go service that requires a client SVID chaining to the bundle and
// answers with the caller's SPIFFE ID. It prints its port, then serves until stdin closes.
func serverCmd(args []string) error {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	certPath := fs.String("cert", "", "PEM: the server's SVID chain")
	keyPath := fs.String("key", "", "PEM: its private key")
	bundlePath := fs.String("bundle", "", "PEM trust bundle")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, roots, err := tlsConfig(*certPath, *keyPath, *bundlePath)
	if err != nil {
		return err
	}
	cfg.ClientCAs = roots
	cfg.ClientAuth = tls.RequireAndVerifyClientCert
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			peer := r.TLS.PeerCertificates[0]
			if len(peer.URIs) != 1 {
				http.Error(w, "no SPIFFE ID", http.StatusForbidden)
				return
			}
			fmt.Fprintf(w, "hello %s", peer.URIs[0])
		}),
		ErrorLog: nil,
	}
	go func() { _ = srv.Serve(ln) }()
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	_, _ = io.Copy(io.Discard, bufio.NewReader(os.Stdin))
	return srv.Close()
}
