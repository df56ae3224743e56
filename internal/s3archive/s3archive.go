// Package s3archive puts, reads and deletes an election's records archive in an
// S3-compatible bucket (spec.archive.s3), with minio-go. An archive is written
// once under a key of its own and never overwritten: a second upload of the
// same bytes finds them there and stops; different bytes under the key are an
// error for a person to look at.
package s3archive

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// Secret keys of spec.archive.s3.credentialsSecretRef.
const (
	AccessKeyID     = "accessKeyID"
	SecretAccessKey = "secretAccessKey"
)

// digestMeta is the object's user metadata holding its "sha256:…" digest.
const digestMeta = "Scrutin-Sha256"

// ErrConflict: another archive stands under the key.
var ErrConflict = errors.New("another archive stands under the key")

// Key is the archive's key in its bucket: <prefix><namespace>/<name>-<uid>.tar.gz.
func Key(dest *scrutinv1.S3Archive, namespace, name, uid string) string {
	return fmt.Sprintf("%s%s/%s-%s.tar.gz", dest.Prefix, namespace, name, uid)
}

// Location is the archive's URL, s3://bucket/key.
func Location(dest *scrutinv1.S3Archive, key string) string {
	return "s3://" + dest.Bucket + "/" + key
}

// Bucket is a client of one destination bucket.
type Bucket struct {
	c    *minio.Client
	name string
}

// Open makes a client of dest with the credentials Secret's data.
func Open(dest *scrutinv1.S3Archive, secret map[string][]byte) (*Bucket, error) {
	ak, sk := string(secret[AccessKeyID]), string(secret[SecretAccessKey])
	if ak == "" || sk == "" {
		return nil, fmt.Errorf("the credentials Secret needs the keys %s and %s", AccessKeyID, SecretAccessKey)
	}
	u, err := url.Parse(strings.TrimSuffix(dest.Endpoint, "/"))
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("endpoint %q is not a URL", dest.Endpoint)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if dest.CABundle != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(dest.CABundle)) {
			return nil, errors.New("caBundle holds no PEM certificate")
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	c, err := minio.New(u.Host, &minio.Options{
		Creds: credentials.NewStaticV4(ak, sk, ""), Secure: u.Scheme == "https", Region: dest.Region,
		Transport: tr, BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		return nil, err
	}
	return &Bucket{c: c, name: dest.Bucket}, nil
}

// Put uploads the archive r (size bytes, digest "sha256:…") under key, unless
// the same archive is there already, then reads it back and checks its digest.
// Different bytes under the key: ErrConflict, and nothing is written.
func (b *Bucket) Put(ctx context.Context, key string, r io.Reader, size int64, digest string) error {
	info, err := b.c.StatObject(ctx, b.name, key, minio.StatObjectOptions{})
	switch {
	case err == nil && info.Size == size && metaDigest(info) == digest:
		return b.check(ctx, key, digest)
	case err == nil:
		return fmt.Errorf("%w (%s, %d bytes, digest %q; this one %s, %d bytes): it is never overwritten",
			ErrConflict, key, info.Size, metaDigest(info), digest, size)
	case minio.ToErrorResponse(err).Code != minio.NoSuchKey:
		return fmt.Errorf("while looking for %s: %w", key, err)
	}
	_, err = b.c.PutObject(ctx, b.name, key, r, size, minio.PutObjectOptions{
		ContentType: "application/gzip", UserMetadata: map[string]string{digestMeta: digest},
	})
	if err != nil {
		return fmt.Errorf("while uploading %s: %w", key, err)
	}
	return b.check(ctx, key, digest)
}

// check reads the object back and compares its digest with digest.
func (b *Bucket) check(ctx context.Context, key, digest string) error {
	h := sha256.New()
	if err := b.Get(ctx, key, h); err != nil {
		return err
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != digest {
		return fmt.Errorf("%s read back has digest %s, not %s", key, got, digest)
	}
	return nil
}

// Get writes the object's bytes to w.
func (b *Bucket) Get(ctx context.Context, key string, w io.Writer) error {
	obj, err := b.c.GetObject(ctx, b.name, key, minio.GetObjectOptions{})
	if err != nil {
		return fmt.Errorf("while reading %s: %w", key, err)
	}
	defer obj.Close()
	if _, err := io.Copy(w, obj); err != nil {
		return fmt.Errorf("while reading %s: %w", key, err)
	}
	return nil
}

// Delete removes the object (nothing when it is gone already).
func (b *Bucket) Delete(ctx context.Context, key string) error {
	err := b.c.RemoveObject(ctx, b.name, key, minio.RemoveObjectOptions{})
	if err != nil && minio.ToErrorResponse(err).Code != minio.NoSuchKey {
		return fmt.Errorf("while deleting %s: %w", key, err)
	}
	return nil
}

func metaDigest(info minio.ObjectInfo) string {
	for k, v := range info.UserMetadata {
		if strings.EqualFold(k, digestMeta) || strings.EqualFold(k, "X-Amz-Meta-"+digestMeta) {
			return v
		}
	}
	return ""
}
