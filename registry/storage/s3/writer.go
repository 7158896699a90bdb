package s3

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/berth-registry/berth/registry/storage"
)

type writerState int

const (
	stateOpen writerState = iota
	stateClosed
	stateCommitted
	stateCanceled
)

// fileWriter buffers up to one part in memory, sends whole parts to a
// multipart upload on the final key as they fill, and on Close stores the
// rest in the pending record. See the package documentation.
type fileWriter struct {
	d *Driver
	// ctx is the context Writer was called with: io.Writer and Close take
	// none, and the parts they upload belong to that call's request.
	ctx    context.Context
	path   string // driver path, for errors
	key    string // final object
	record string // pending record object

	uploadID  string // multipart upload; "" until the first whole part
	parts     []types.CompletedPart
	partsSize int64
	buf       []byte // bytes after the last part, at most one part

	// keep is set when Close must store a record even if nothing was
	// written: the writer started a fresh pending write (append=false) or
	// copied committed content into one.
	keep  bool
	dirty bool
	state writerState
}

// open loads the pending write (append) or replaces it with an empty one.
func (w *fileWriter) open(ctx context.Context, append bool) error {
	rec, err := w.d.readRecord(ctx, w.record, append)
	switch {
	case isNotFound(err) && append:
		return w.startFromCommitted(ctx)
	case isNotFound(err):
		w.keep = true
		return nil
	case err != nil:
		return err
	}
	if !append {
		w.keep = true
		return w.d.dropRecord(ctx, w.record, rec.uploadID, w.key)
	}
	w.uploadID, w.buf = rec.uploadID, rec.tail
	if rec.parts == 0 {
		return nil
	}
	// Parts after the recorded count were sent by a writer that never
	// reached Close; their bytes are not part of the pending write and
	// are overwritten by the next parts.
	parts, size, err := w.d.listParts(ctx, w.key, rec.uploadID, rec.parts)
	if err != nil {
		return err
	}
	w.parts, w.partsSize = parts, size
	return nil
}

// startFromCommitted begins a pending write holding the committed content
// of the key, if there is any: whole parts are copied on the server, the
// rest is read into the buffer.
func (w *fileWriter) startFromCommitted(ctx context.Context) error {
	head, err := w.d.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: &w.d.bucket, Key: &w.key})
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	w.keep = true
	size := aws.ToInt64(head.ContentLength)
	whole := size - size%int64(w.d.partSize)
	if whole > 0 {
		if err := w.createUpload(ctx); err != nil {
			return err
		}
		parts, err := w.d.copyParts(ctx, w.key, w.key, w.uploadID, 0, whole, 1)
		if err != nil {
			return err
		}
		w.parts, w.partsSize = parts, whole
	}
	if whole == size {
		return nil
	}
	out, err := w.d.client.GetObject(ctx, &awss3.GetObjectInput{
		Bucket: &w.d.bucket, Key: &w.key, Range: aws.String(fmt.Sprintf("bytes=%d-", whole)),
	})
	if err != nil {
		return err
	}
	defer out.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(out.Body); err != nil {
		return err
	}
	if int64(b.Len()) != size-whole {
		return fmt.Errorf("read %d bytes of the committed content's last %d", b.Len(), size-whole)
	}
	w.buf = b.Bytes()
	return nil
}

// listParts returns parts 1..n of upload id and their total size.
func (d *Driver) listParts(ctx context.Context, key, id string, n int) ([]types.CompletedPart, int64, error) {
	parts := make([]types.CompletedPart, 0, n)
	var size int64
	in := &awss3.ListPartsInput{Bucket: &d.bucket, Key: &key, UploadId: &id}
	for len(parts) < n {
		out, err := d.client.ListParts(ctx, in)
		if err != nil {
			return nil, 0, fmt.Errorf("pending write of %s: %w", key, err)
		}
		for _, p := range out.Parts {
			num := int(aws.ToInt32(p.PartNumber))
			if num > n {
				break
			}
			if num != len(parts)+1 {
				return nil, 0, fmt.Errorf("pending write of %s: part %d missing", key, len(parts)+1)
			}
			parts = append(parts, types.CompletedPart{ETag: p.ETag, PartNumber: p.PartNumber})
			size += aws.ToInt64(p.Size)
		}
		if !aws.ToBool(out.IsTruncated) || out.NextPartNumberMarker == nil {
			break
		}
		in.PartNumberMarker = out.NextPartNumberMarker
	}
	if len(parts) != n {
		return nil, 0, fmt.Errorf("pending write of %s: %d parts recorded, %d stored", key, n, len(parts))
	}
	return parts, size, nil
}

func (w *fileWriter) createUpload(ctx context.Context) error {
	out, err := w.d.client.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: &w.d.bucket, Key: &w.key})
	if err != nil {
		return err
	}
	w.uploadID = aws.ToString(out.UploadId)
	return nil
}

// uploadPart sends b as the next part.
func (w *fileWriter) uploadPart(ctx context.Context, b []byte) error {
	if len(w.parts) >= maxParts {
		return fmt.Errorf("more than %d parts of %d bytes: file too large", maxParts, w.d.partSize)
	}
	if w.uploadID == "" {
		if err := w.createUpload(ctx); err != nil {
			return err
		}
	}
	n := int32(len(w.parts) + 1)
	out, err := w.d.client.UploadPart(ctx, &awss3.UploadPartInput{
		Bucket: &w.d.bucket, Key: &w.key, UploadId: &w.uploadID, PartNumber: aws.Int32(n),
		Body: bytes.NewReader(b), ContentLength: aws.Int64(int64(len(b))),
	})
	if err != nil {
		return err
	}
	w.parts = append(w.parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(n)})
	w.partsSize += int64(len(b))
	return nil
}

// Write buffers p, sending each part as soon as it is whole.
func (w *fileWriter) Write(p []byte) (int, error) {
	if w.state != stateOpen {
		return 0, pathError("write", w.path, fs.ErrClosed)
	}
	written := 0
	for len(p) > 0 {
		n := min(len(p), w.d.partSize-len(w.buf))
		w.buf = append(w.buf, p[:n]...)
		p = p[n:]
		written += n
		w.dirty = true
		if len(w.buf) == w.d.partSize {
			if err := w.uploadPart(w.ctx, w.buf); err != nil {
				// The bytes stay buffered: Size still counts them.
				return written, pathError("write", w.path, err)
			}
			w.buf = w.buf[:0]
		}
	}
	return written, nil
}

// Size returns the number of pending bytes.
func (w *fileWriter) Size() int64 { return w.partsSize + int64(len(w.buf)) }

// Close stores the pending record so that a later Writer(append) goes on.
func (w *fileWriter) Close() error {
	if w.state != stateOpen {
		return nil
	}
	w.state = stateClosed
	if !w.dirty && !w.keep {
		return nil
	}
	// The caller records the new size once Close returns, so the record
	// must be stored by then.
	meta := map[string]string{metaUploadID: w.uploadID, metaParts: strconv.Itoa(len(w.parts))}
	if err := w.d.put(w.ctx, w.record, w.buf, meta); err != nil {
		return pathError("close", w.path, err)
	}
	return nil
}

// Cancel aborts the multipart upload and deletes the pending record.
func (w *fileWriter) Cancel(ctx context.Context) error {
	switch w.state {
	case stateCanceled:
		return nil
	case stateOpen:
	default:
		return pathError("cancel", w.path, fs.ErrClosed)
	}
	w.state = stateCanceled
	if err := w.d.dropRecord(ctx, w.record, w.uploadID, w.key); err != nil {
		return pathError("cancel", w.path, err)
	}
	return nil
}

// Commit makes the pending bytes the object: one PutObject when they
// never filled a part, else the last part and CompleteMultipartUpload.
func (w *fileWriter) Commit(ctx context.Context) error {
	if w.state != stateOpen {
		return pathError("commit", w.path, fs.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return pathError("commit", w.path, err)
	}
	if w.uploadID == "" {
		if err := w.d.put(ctx, w.key, w.buf, nil); err != nil {
			return pathError("commit", w.path, err)
		}
	} else {
		if len(w.buf) > 0 || len(w.parts) == 0 {
			if err := w.uploadPart(ctx, w.buf); err != nil {
				return pathError("commit", w.path, err)
			}
			w.buf = w.buf[:0]
		}
		if _, err := w.d.client.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{
			Bucket: &w.d.bucket, Key: &w.key, UploadId: &w.uploadID,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: w.parts},
		}); err != nil {
			return pathError("commit", w.path, err)
		}
	}
	w.state = stateCommitted
	if _, err := w.d.client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: &w.d.bucket, Key: &w.record}); err != nil && !isNotFound(err) {
		return pathError("commit", w.path, err)
	}
	return nil
}

var _ storage.FileWriter = (*fileWriter)(nil)
