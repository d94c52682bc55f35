package tlslayer

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
)

// Certs holds the server's certificate and key, swapped atomically by Reload (SIGHUP): new
// handshakes use the new pair; established connections do not care.
type Certs struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
}

// LoadCerts reads a PEM certificate chain (leaf first) and its private key. A file that cannot
// be read or parsed, or a key that does not match the certificate, is an error naming the file.
func LoadCerts(certFile, keyFile string) (*Certs, error) {
	c := &Certs{certFile: certFile, keyFile: keyFile}
	if err := c.Reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// NewCerts holds an already parsed pair (tests, embedding); Reload then fails.
func NewCerts(cert *tls.Certificate) *Certs {
	c := &Certs{}
	c.cur.Store(cert)
	return c
}

// Reload reads the files again and, when they are good, makes new handshakes use them. On
// an error the pair in use stays.
func (c *Certs) Reload() error {
	if c.certFile == "" {
		return errors.New("tlslayer: no certificate files to reload")
	}
	cert, err := loadPair(c.certFile, c.keyFile)
	if err != nil {
		return err
	}
	c.cur.Store(cert)
	return nil
}

// Current returns the pair new handshakes use.
func (c *Certs) Current() *tls.Certificate { return c.cur.Load() }

// get is tls.Config.GetCertificate.
func (c *Certs) get(*tls.ClientHelloInfo) (*tls.Certificate, error) { return c.cur.Load(), nil }

func loadPair(certFile, keyFile string) (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("tlslayer: certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("tlslayer: key: %w", err)
	}
	if err := checkCertPEM(certPEM); err != nil {
		return nil, fmt.Errorf("tlslayer: certificate file %s: %w", certFile, err)
	}
	if err := checkKeyPEM(keyPEM); err != nil {
		return nil, fmt.Errorf("tlslayer: key file %s: %w", keyFile, err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("tlslayer: key file %s and certificate file %s: %w", keyFile, certFile, err)
	}
	return &cert, nil
}

// checkCertPEM checks that b holds at least one certificate and that each parses.
func checkCertPEM(b []byte) error {
	n := 0
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(blk.Bytes); err != nil {
			return fmt.Errorf("certificate %d: %w", n+1, err)
		}
		n++
	}
	if n == 0 {
		return errors.New("no PEM CERTIFICATE block")
	}
	return nil
}

// checkKeyPEM checks that b holds a private key in a form crypto/tls reads.
func checkKeyPEM(b []byte) error {
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return errors.New("no PEM private key block")
		}
		switch blk.Type {
		case "PRIVATE KEY":
			_, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
			return err
		case "RSA PRIVATE KEY":
			_, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
			return err
		case "EC PRIVATE KEY":
			_, err := x509.ParseECPrivateKey(blk.Bytes)
			return err
		}
	}
}
