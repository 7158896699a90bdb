// Package s3 implements storage.Driver on a bucket of an S3-compatible
// object store (AWS S3, MinIO, versitygw, Ceph RGW...).
//
// A file at driver path /a/b is the object <prefix>a/b. Directories are
// not stored: a directory exists while some object's key starts with it.
//
// A pending write (storage.Driver.Writer) is a multipart upload on the
// final key plus a small "pending record" object next to it, <prefix>a/.b.pending,
// that names the multipart upload, how many of its parts are kept, and
// holds the bytes written after the last whole part (at most PartSize).
// The record is what makes a write continue in another process: Close
// rewrites it, a later Writer(append) reads it back. Names starting with a
// dot are refused by storage.ValidatePath, so records never collide with
// driver paths and Walk hides them. Commit completes the multipart upload
// (or puts the object directly when it is small), which S3 makes visible
// atomically, then deletes the record.
package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/berth-registry/berth/registry/storage"
)

const (
	// MinPartSize is S3's lower bound for every part of a multipart
	// upload but the last.
	MinPartSize = 5 << 20
	// DefaultPartSize is the part size when Options.PartSize is zero:
	// what one writer buffers in memory at most.
	DefaultPartSize = 8 << 20
	// maxPartSize keeps the per-writer buffer reasonable.
	maxPartSize = 256 << 20
	// maxParts is S3's limit on the parts of one multipart upload.
	maxParts = 10000
	// maxCopySize is S3's limit on one CopyObject or UploadPartCopy.
	maxCopySize = 5 << 30
	// maxContentSize bounds GetContent, which reads a whole file into
	// memory; it is meant for small files.
	maxContentSize = 64 << 20
	// deleteBatch is S3's limit on the keys of one DeleteObjects.
	deleteBatch = 1000

	metaUploadID = "berth-upload-id"
	metaParts    = "berth-parts"
)

// Options configure a Driver.
type Options struct {
	// Endpoint is the server's URL, such as http://127.0.0.1:7070; empty
	// means AWS.
	Endpoint string
	// Region is the bucket's region; empty means us-east-1.
	Region string
	// Bucket must exist.
	Bucket string
	// Prefix is put before every key, so several registries can share a
	// bucket; slashes around it do not matter.
	Prefix string
	// AccessKey and SecretKey are the static credentials.
	AccessKey, SecretKey string
	// PathStyle puts the bucket in the URL path instead of the host name.
	PathStyle bool
	// PartSize is the size of the parts of multipart uploads, at least
	// MinPartSize; zero means DefaultPartSize.
	PartSize int
	// HTTPClient, if set, carries the requests.
	HTTPClient *http.Client
}

// Driver stores files as objects of one bucket. It keeps no state besides
// its configuration, so several processes may share a bucket and prefix.
type Driver struct {
	client   *awss3.Client
	presign  *awss3.PresignClient
	bucket   string
	prefix   string // "" or "name/.../"
	partSize int
}

var _ storage.Driver = (*Driver)(nil)

// New returns a Driver for the bucket of opts, after checking that the
// bucket exists and the credentials are accepted.
func New(ctx context.Context, opts Options) (*Driver, error) {
	if opts.Bucket == "" {
		return nil, errors.New("s3: no bucket")
	}
	if opts.AccessKey == "" || opts.SecretKey == "" {
		return nil, errors.New("s3: access key and secret key are required")
	}
	partSize := opts.PartSize
	if partSize == 0 {
		partSize = DefaultPartSize
	}
	if partSize < MinPartSize || partSize > maxPartSize {
		return nil, fmt.Errorf("s3: part size %d not in [%d, %d]", partSize, MinPartSize, maxPartSize)
	}
	prefix := strings.Trim(opts.Prefix, "/")
	if prefix != "" {
		if err := storage.ValidatePath("/" + prefix); err != nil {
			return nil, fmt.Errorf("s3: prefix %q: %w", opts.Prefix, err)
		}
		prefix += "/"
	}
	region := opts.Region
	if region == "" {
		region = "us-east-1"
	}
	s3opts := awss3.Options{
		Region:       region,
		UsePathStyle: opts.PathStyle,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: opts.AccessKey, SecretAccessKey: opts.SecretKey, Source: "berth configuration"}, nil
		}),
		// Checksums only where S3 requires them: parts are sent from
		// memory with their SHA-256 signed, and the registry hashes
		// every blob itself.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}
	if opts.Endpoint != "" {
		u, err := url.Parse(opts.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("s3: endpoint %q is not an http(s) URL", opts.Endpoint)
		}
		s3opts.BaseEndpoint = aws.String(strings.TrimRight(opts.Endpoint, "/"))
	}
	if opts.HTTPClient != nil {
		s3opts.HTTPClient = opts.HTTPClient
	}
	client := awss3.New(s3opts)
	d := &Driver{client: client, presign: awss3.NewPresignClient(client), bucket: opts.Bucket, prefix: prefix, partSize: partSize}
	checkCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if _, err := client.HeadBucket(checkCtx, &awss3.HeadBucketInput{Bucket: aws.String(opts.Bucket)}); err != nil {
		var re *awshttp.ResponseError
		if errors.As(err, &re) {
			switch re.HTTPStatusCode() {
			case http.StatusNotFound:
				return nil, fmt.Errorf("s3: bucket %q does not exist (create it first): %w", opts.Bucket, err)
			case http.StatusForbidden:
				return nil, fmt.Errorf("s3: bucket %q: access denied, check the access and secret keys: %w", opts.Bucket, err)
			}
		}
		return nil, fmt.Errorf("s3: bucket %q: %w", opts.Bucket, err)
	}
	return d, nil
}

// Name returns "s3".
func (d *Driver) Name() string { return "s3" }

// GetContent reads the whole object at path, up to 64 MiB.
func (d *Driver) GetContent(ctx context.Context, path string) ([]byte, error) {
	key, err := d.file(ctx, "getcontent", path)
	if err != nil {
		return nil, err
	}
	out, err := d.client.GetObject(ctx, &awss3.GetObjectInput{Bucket: &d.bucket, Key: &key})
	if err != nil {
		return nil, pathError("getcontent", path, err)
	}
	defer out.Body.Close()
	if aws.ToInt64(out.ContentLength) > maxContentSize {
		return nil, pathError("getcontent", path, fmt.Errorf("%d bytes is more than the %d GetContent reads", aws.ToInt64(out.ContentLength), maxContentSize))
	}
	b, err := io.ReadAll(io.LimitReader(out.Body, maxContentSize+1))
	if err != nil {
		return nil, pathError("getcontent", path, err)
	}
	if len(b) > maxContentSize {
		return nil, pathError("getcontent", path, fmt.Errorf("more than the %d bytes GetContent reads", maxContentSize))
	}
	return b, nil
}

// PutContent stores content at path with one PutObject, which S3 makes
// visible atomically.
func (d *Driver) PutContent(ctx context.Context, path string, content []byte) error {
	key, err := d.file(ctx, "putcontent", path)
	if err != nil {
		return err
	}
	if err := d.put(ctx, key, content, nil); err != nil {
		return pathError("putcontent", path, err)
	}
	return nil
}

// Reader streams the object at path from offset.
func (d *Driver) Reader(ctx context.Context, path string, offset int64) (io.ReadCloser, error) {
	key, err := d.file(ctx, "reader", path)
	if err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, pathError("reader", path, fmt.Errorf("%w: %d is negative", storage.ErrInvalidOffset, offset))
	}
	in := &awss3.GetObjectInput{Bucket: &d.bucket, Key: &key}
	if offset > 0 {
		in.Range = aws.String("bytes=" + strconv.FormatInt(offset, 10) + "-")
	}
	out, err := d.client.GetObject(ctx, in)
	if err == nil {
		return out.Body, nil
	}
	if offset == 0 || !hasCode(err, "InvalidRange") {
		return nil, pathError("reader", path, err)
	}
	// The range starts at or after the end: only the end itself is valid.
	head, herr := d.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: &d.bucket, Key: &key})
	if herr != nil {
		return nil, pathError("reader", path, herr)
	}
	if size := aws.ToInt64(head.ContentLength); offset != size {
		return nil, pathError("reader", path, fmt.Errorf("%w: %d not in [0, %d]", storage.ErrInvalidOffset, offset, size))
	}
	return io.NopCloser(bytes.NewReader(nil)), nil
}

// Writer opens the pending write of path. See storage.Driver.Writer and
// the package documentation.
func (d *Driver) Writer(ctx context.Context, path string, append bool) (storage.FileWriter, error) {
	key, err := d.file(ctx, "writer", path)
	if err != nil {
		return nil, err
	}
	if isDir, err := d.isDir(ctx, key); err != nil {
		return nil, pathError("writer", path, err)
	} else if isDir {
		return nil, pathError("writer", path, isDirError())
	}
	w := &fileWriter{d: d, ctx: ctx, path: path, key: key, record: d.recordKey(key)}
	if err := w.open(ctx, append); err != nil {
		return nil, pathError("writer", path, err)
	}
	return w, nil
}

// Stat describes the object at path, or the directory its key starts.
func (d *Driver) Stat(ctx context.Context, path string) (storage.FileInfo, error) {
	key, err := d.resolve(ctx, "stat", path)
	if err != nil {
		return storage.FileInfo{}, err
	}
	if path == "/" {
		return storage.FileInfo{Path: "/", IsDir: true}, nil
	}
	head, err := d.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: &d.bucket, Key: &key})
	if err == nil {
		return storage.FileInfo{Path: path, Size: aws.ToInt64(head.ContentLength), ModTime: aws.ToTime(head.LastModified)}, nil
	}
	if !isNotFound(err) {
		return storage.FileInfo{}, pathError("stat", path, err)
	}
	out, err := d.client.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: &d.bucket, Prefix: aws.String(key + "/"), MaxKeys: aws.Int32(1)})
	if err != nil {
		return storage.FileInfo{}, pathError("stat", path, err)
	}
	if len(out.Contents) == 0 {
		return storage.FileInfo{}, pathError("stat", path, storage.ErrNotFound)
	}
	return storage.FileInfo{Path: path, IsDir: true, ModTime: aws.ToTime(out.Contents[0].LastModified)}, nil
}

// Move copies src to dst on the server and deletes src. The copy appears
// at dst atomically; src disappears just after.
func (d *Driver) Move(ctx context.Context, src, dst string) error {
	srcKey, err := d.file(ctx, "move", src)
	if err != nil {
		return err
	}
	dstKey, err := d.file(ctx, "move", dst)
	if err != nil {
		return err
	}
	head, err := d.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: &d.bucket, Key: &srcKey})
	if err != nil {
		return pathError("move", src, err)
	}
	if err := d.copy(ctx, srcKey, dstKey, aws.ToInt64(head.ContentLength)); err != nil {
		return pathError("move", src, err)
	}
	if _, err := d.client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: &d.bucket, Key: &srcKey}); err != nil {
		return pathError("move", src, err)
	}
	return nil
}

// Delete removes the object at path, every object under it, and the
// pending writes of all of them.
func (d *Driver) Delete(ctx context.Context, path string) error {
	key, err := d.file(ctx, "delete", path)
	if err != nil {
		return err
	}
	found := false
	// The pending write of path itself.
	if rec, err := d.readRecord(ctx, d.recordKey(key), false); err != nil && !isNotFound(err) {
		return pathError("delete", path, err)
	} else if err == nil {
		found = true
		if err := d.dropRecord(ctx, d.recordKey(key), rec.uploadID, key); err != nil {
			return pathError("delete", path, err)
		}
	}
	if _, err := d.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: &d.bucket, Key: &key}); err == nil {
		found = true
		if _, err := d.client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: &d.bucket, Key: &key}); err != nil {
			return pathError("delete", path, err)
		}
	} else if !isNotFound(err) {
		return pathError("delete", path, err)
	}
	// Everything under path, records included.
	n, err := d.deletePrefix(ctx, key+"/")
	if err != nil {
		return pathError("delete", path, err)
	}
	found = found || n > 0
	// Multipart uploads whose record is gone or was never written (a
	// writer that died before its first Close).
	if err := d.abortUploads(ctx, key); err != nil {
		return pathError("delete", path, err)
	}
	if !found {
		return pathError("delete", path, storage.ErrNotFound)
	}
	return nil
}

// Walk visits the tree under path in lexical order of names, one level
// listing (with delimiter "/") at a time, hiding pending records. A
// directory's ModTime is the newest of the objects directly in it.
func (d *Driver) Walk(ctx context.Context, path string, fn storage.WalkFunc) error {
	key, err := d.resolve(ctx, "walk", path)
	if err != nil {
		return err
	}
	prefix := d.prefix
	if path != "/" {
		head, err := d.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: &d.bucket, Key: &key})
		if err == nil {
			info := storage.FileInfo{Path: path, Size: aws.ToInt64(head.ContentLength), ModTime: aws.ToTime(head.LastModified)}
			if err := fn(info); err != nil && err != fs.SkipDir && err != fs.SkipAll {
				return err
			}
			return nil
		}
		if !isNotFound(err) {
			return pathError("walk", path, err)
		}
		prefix = key + "/"
	}
	entries, _, err := d.listLevel(ctx, prefix)
	if err != nil {
		return pathError("walk", path, err)
	}
	if len(entries) == 0 && path != "/" {
		return pathError("walk", path, storage.ErrNotFound)
	}
	base := strings.TrimSuffix(path, "/") + "/"
	err = d.walkLevel(ctx, path, base, prefix, entries, fn)
	if err == fs.SkipAll || err == fs.SkipDir {
		return nil
	}
	return err
}

// entry is one name of a directory listing.
type entry struct {
	name    string
	dir     bool
	size    int64
	modTime time.Time
}

// walkLevel calls fn for entries, the listing of the directory whose
// driver path is dirPath (ending in "/") and whose keys start with prefix,
// and descends into its directories. A directory holding only pending
// records is still visited (empty), as on the filesystem. walkPath names
// the walk in errors; fs.SkipAll from fn is returned to stop everything.
func (d *Driver) walkLevel(ctx context.Context, walkPath, dirPath, prefix string, entries []entry, fn storage.WalkFunc) error {
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return pathError("walk", walkPath, err)
		}
		p := dirPath + e.name
		if !e.dir {
			err := fn(storage.FileInfo{Path: p, Size: e.size, ModTime: e.modTime})
			switch err {
			case nil:
				continue
			case fs.SkipDir:
				return nil // skip the rest of this directory, as fs.WalkDir does
			default:
				return err
			}
		}
		sub, newest, err := d.listLevel(ctx, prefix+e.name+"/")
		if err != nil {
			return pathError("walk", walkPath, err)
		}
		if len(sub) == 0 && newest.IsZero() {
			continue // emptied while we walked
		}
		switch err := fn(storage.FileInfo{Path: p, IsDir: true, ModTime: newest}); err {
		case nil:
		case fs.SkipDir:
			continue
		default:
			return err
		}
		if err := d.walkLevel(ctx, walkPath, p+"/", prefix+e.name+"/", sub, fn); err != nil {
			return err
		}
	}
	return nil
}

// listLevel lists the names directly under prefix, sorted as fs.WalkDir
// sorts them (by name, so "a" comes before "a-x" even though the key
// "a-x" sorts before "a/"), without pending records. newest is the latest
// modification among the objects directly under prefix, records included:
// a directory holding only a pending write was still touched.
func (d *Driver) listLevel(ctx context.Context, prefix string) (entries []entry, newest time.Time, err error) {
	in := &awss3.ListObjectsV2Input{Bucket: &d.bucket, Prefix: aws.String(prefix), Delimiter: aws.String("/")}
	for {
		out, err := d.client.ListObjectsV2(ctx, in)
		if err != nil {
			return nil, time.Time{}, err
		}
		for _, o := range out.Contents {
			name := strings.TrimPrefix(aws.ToString(o.Key), prefix)
			mod := aws.ToTime(o.LastModified)
			if mod.After(newest) {
				newest = mod
			}
			if name == "" || strings.HasPrefix(name, ".") || strings.Contains(name, "/") {
				continue
			}
			entries = append(entries, entry{name: name, size: aws.ToInt64(o.Size), modTime: mod})
		}
		for _, cp := range out.CommonPrefixes {
			name := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(cp.Prefix), prefix), "/")
			if name == "" || strings.HasPrefix(name, ".") {
				continue
			}
			entries = append(entries, entry{name: name, dir: true})
		}
		if !aws.ToBool(out.IsTruncated) || out.NextContinuationToken == nil {
			break
		}
		in.ContinuationToken = out.NextContinuationToken
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.name, b.name) })
	return entries, newest, nil
}

// PresignGet returns a URL that fetches the object at path without
// credentials until expires has passed.
func (d *Driver) PresignGet(ctx context.Context, path string, expires time.Duration) (string, error) {
	key, err := d.file(ctx, "presign", path)
	if err != nil {
		return "", err
	}
	req, err := d.presign.PresignGetObject(ctx, &awss3.GetObjectInput{Bucket: &d.bucket, Key: &key}, awss3.WithPresignExpires(expires))
	if err != nil {
		return "", pathError("presign", path, err)
	}
	return req.URL, nil
}

// resolve checks the context and path and returns the object key.
func (d *Driver) resolve(ctx context.Context, op, path string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", pathError(op, path, err)
	}
	if err := storage.ValidatePath(path); err != nil {
		return "", pathError(op, path, err)
	}
	return d.prefix + strings.TrimPrefix(path, "/"), nil
}

// file is resolve for operations that need a file path, which "/" is not.
func (d *Driver) file(ctx context.Context, op, path string) (string, error) {
	if path == "/" {
		return "", pathError(op, path, fmt.Errorf("%w: the root is not a file", storage.ErrInvalidPath))
	}
	return d.resolve(ctx, op, path)
}

// recordKey is the key of the pending record of key: ".<base>.pending"
// beside it.
func (d *Driver) recordKey(key string) string {
	i := strings.LastIndexByte(key, '/')
	return key[:i+1] + "." + key[i+1:] + ".pending"
}

// isDir reports whether some object lives under key+"/".
func (d *Driver) isDir(ctx context.Context, key string) (bool, error) {
	out, err := d.client.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: &d.bucket, Prefix: aws.String(key + "/"), MaxKeys: aws.Int32(1)})
	if err != nil {
		return false, err
	}
	return len(out.Contents) > 0, nil
}

func (d *Driver) put(ctx context.Context, key string, content []byte, meta map[string]string) error {
	_, err := d.client.PutObject(ctx, &awss3.PutObjectInput{
		Bucket: &d.bucket, Key: &key, Body: bytes.NewReader(content),
		ContentLength: aws.Int64(int64(len(content))), Metadata: meta,
	})
	return err
}

// copy copies the object srcKey of size bytes to dstKey, with a multipart
// copy when it is larger than one CopyObject may be.
func (d *Driver) copy(ctx context.Context, srcKey, dstKey string, size int64) error {
	source := d.bucket + "/" + srcKey // keys hold only [A-Za-z0-9._/-]: no escaping needed
	if size <= maxCopySize {
		_, err := d.client.CopyObject(ctx, &awss3.CopyObjectInput{Bucket: &d.bucket, Key: &dstKey, CopySource: &source})
		return err
	}
	up, err := d.client.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: &d.bucket, Key: &dstKey})
	if err != nil {
		return err
	}
	parts, err := d.copyParts(ctx, srcKey, dstKey, aws.ToString(up.UploadId), 0, size, 1)
	if err == nil {
		_, err = d.client.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{
			Bucket: &d.bucket, Key: &dstKey, UploadId: up.UploadId,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
		})
	}
	if err != nil {
		d.client.AbortMultipartUpload(context.WithoutCancel(ctx), &awss3.AbortMultipartUploadInput{Bucket: &d.bucket, Key: &dstKey, UploadId: up.UploadId})
		return err
	}
	return nil
}

// copyParts copies bytes [from, to) of srcKey into upload id as parts
// numbered from first, in pieces of at most 1 GiB (a multiple of any part
// size, so that every piece but the last is a whole number of parts).
func (d *Driver) copyParts(ctx context.Context, srcKey, dstKey, id string, from, to int64, first int32) ([]types.CompletedPart, error) {
	const piece = 1 << 30
	source := d.bucket + "/" + srcKey
	var parts []types.CompletedPart
	for n := first; from < to; n++ {
		if n > maxParts {
			return nil, fmt.Errorf("more than %d parts", maxParts)
		}
		end := min(from+piece, to)
		out, err := d.client.UploadPartCopy(ctx, &awss3.UploadPartCopyInput{
			Bucket: &d.bucket, Key: &dstKey, UploadId: &id, PartNumber: aws.Int32(n),
			CopySource: &source, CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", from, end-1)),
		})
		if err != nil {
			return nil, err
		}
		var etag *string
		if out.CopyPartResult != nil {
			etag = out.CopyPartResult.ETag
		}
		parts = append(parts, types.CompletedPart{ETag: etag, PartNumber: aws.Int32(n)})
		from = end
	}
	return parts, nil
}

// deletePrefix deletes every object whose key starts with prefix and
// returns how many there were.
func (d *Driver) deletePrefix(ctx context.Context, prefix string) (int, error) {
	total := 0
	in := &awss3.ListObjectsV2Input{Bucket: &d.bucket, Prefix: aws.String(prefix)}
	for {
		out, err := d.client.ListObjectsV2(ctx, in)
		if err != nil {
			return total, err
		}
		var ids []types.ObjectIdentifier
		for _, o := range out.Contents {
			ids = append(ids, types.ObjectIdentifier{Key: o.Key})
		}
		for len(ids) > 0 {
			batch := ids[:min(len(ids), deleteBatch)]
			ids = ids[len(batch):]
			res, err := d.client.DeleteObjects(ctx, &awss3.DeleteObjectsInput{
				Bucket: &d.bucket, Delete: &types.Delete{Objects: batch, Quiet: aws.Bool(true)},
			})
			if err != nil {
				return total, err
			}
			if len(res.Errors) > 0 {
				e := res.Errors[0]
				return total, fmt.Errorf("deleting %s: %s: %s", aws.ToString(e.Key), aws.ToString(e.Code), aws.ToString(e.Message))
			}
			total += len(batch)
		}
		if !aws.ToBool(out.IsTruncated) || out.NextContinuationToken == nil {
			return total, nil
		}
		in.ContinuationToken = out.NextContinuationToken
	}
}

// abortUploads aborts the multipart uploads of key and of every key under
// key+"/".
func (d *Driver) abortUploads(ctx context.Context, key string) error {
	in := &awss3.ListMultipartUploadsInput{Bucket: &d.bucket, Prefix: aws.String(key)}
	for {
		out, err := d.client.ListMultipartUploads(ctx, in)
		if err != nil {
			return err
		}
		for _, u := range out.Uploads {
			k := aws.ToString(u.Key)
			if k != key && !strings.HasPrefix(k, key+"/") {
				continue
			}
			if err := d.abort(ctx, k, aws.ToString(u.UploadId)); err != nil {
				return err
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			return nil
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
}

// abort aborts multipart upload id of key; one already gone is fine.
func (d *Driver) abort(ctx context.Context, key, id string) error {
	if id == "" {
		return nil
	}
	_, err := d.client.AbortMultipartUpload(ctx, &awss3.AbortMultipartUploadInput{Bucket: &d.bucket, Key: &key, UploadId: &id})
	if err != nil && !isNotFound(err) {
		return err
	}
	return nil
}

// record is a pending write as stored in its record object.
type record struct {
	uploadID string
	parts    int
	tail     []byte
}

// readRecord reads the record at key; with body false only its metadata.
func (d *Driver) readRecord(ctx context.Context, key string, body bool) (record, error) {
	var meta map[string]string
	var rec record
	if body {
		out, err := d.client.GetObject(ctx, &awss3.GetObjectInput{Bucket: &d.bucket, Key: &key})
		if err != nil {
			return rec, err
		}
		defer out.Body.Close()
		if n := aws.ToInt64(out.ContentLength); n > int64(d.partSize) {
			return rec, fmt.Errorf("pending record %s holds %d bytes, more than a part (%d)", key, n, d.partSize)
		}
		rec.tail, err = io.ReadAll(io.LimitReader(out.Body, int64(d.partSize)+1))
		if err != nil {
			return rec, err
		}
		if len(rec.tail) > d.partSize {
			return rec, fmt.Errorf("pending record %s holds more than a part (%d bytes)", key, d.partSize)
		}
		meta = out.Metadata
	} else {
		out, err := d.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: &d.bucket, Key: &key})
		if err != nil {
			return rec, err
		}
		meta = out.Metadata
	}
	rec.uploadID = lookupMeta(meta, metaUploadID)
	if s := lookupMeta(meta, metaParts); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > maxParts {
			return rec, fmt.Errorf("pending record %s: bad part count %q", key, s)
		}
		rec.parts = n
	}
	if rec.parts > 0 && rec.uploadID == "" {
		return rec, fmt.Errorf("pending record %s: %d parts but no upload id", key, rec.parts)
	}
	return rec, nil
}

// dropRecord aborts the multipart upload of a pending write and deletes
// its record.
func (d *Driver) dropRecord(ctx context.Context, recordKey, uploadID, key string) error {
	if err := d.abort(ctx, key, uploadID); err != nil {
		return err
	}
	if _, err := d.client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: &d.bucket, Key: &recordKey}); err != nil && !isNotFound(err) {
		return err
	}
	return nil
}

// lookupMeta finds user metadata whatever case the server gave its name.
func lookupMeta(meta map[string]string, name string) string {
	for k, v := range meta {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// pathError wraps err for op on path, translating S3's "no such key" to
// storage.ErrNotFound and leaving context errors visible to errors.Is.
func pathError(op, path string, err error) error {
	var pe *storage.PathError
	if errors.As(err, &pe) {
		return err
	}
	if isNotFound(err) {
		err = storage.ErrNotFound
	}
	return &storage.PathError{Op: op, Path: path, Err: err}
}

// isNotFound reports whether S3 said the key or upload does not exist. A
// missing bucket is a configuration problem, not a missing file.
func isNotFound(err error) bool {
	if hasCode(err, "NoSuchBucket") {
		return false
	}
	if hasCode(err, "NoSuchKey", "NotFound", "NoSuchUpload") {
		return true
	}
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound
}

func hasCode(err error, codes ...string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && slices.Contains(codes, ae.ErrorCode())
}

func isDirError() error { return fmt.Errorf("%w: is a directory", storage.ErrInvalidPath) }
