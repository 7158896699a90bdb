// Package storagetest is the conformance suite every storage.Driver must
// pass. A driver's own test calls Run; a new driver is done when it is
// green.
package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/registry/storage"
)

// LargeSize is the size of the content streamed through the driver by the
// large-content test.
const LargeSize = 64 << 20

// Run checks that the drivers made by newDriver behave as storage.Driver
// documents. newDriver is called once per subtest and must return a driver
// over empty storage; subtests run in parallel.
func Run(t *testing.T, newDriver func(t *testing.T) storage.Driver) {
	tests := []struct {
		name string
		test func(t *testing.T, d storage.Driver)
	}{
		{"NameIsNotEmpty", testNameIsNotEmpty},
		{"PutContentThenGetContentReturnsIt", testPutContentThenGetContentReturnsIt},
		{"PutContentReplacesExistingContent", testPutContentReplacesExistingContent},
		{"ConcurrentPutContentNeverShowsPartialContent", testConcurrentPutContentNeverShowsPartialContent},
		{"MissingPathsAreNotFound", testMissingPathsAreNotFound},
		{"InvalidPathsAreRejectedByEveryMethod", testInvalidPathsAreRejectedByEveryMethod},
		{"RootIsNotAFile", testRootIsNotAFile},
		{"FileOperationsOnADirectoryFail", testFileOperationsOnADirectoryFail},
		{"CanceledContextIsRefused", testCanceledContextIsRefused},
		{"ReaderStartsAtOffset", testReaderStartsAtOffset},
		{"ReaderRejectsOffsetsOutsideTheFile", testReaderRejectsOffsetsOutsideTheFile},
		{"StatDescribesFilesAndDirectories", testStatDescribesFilesAndDirectories},
		{"WriterBytesAreInvisibleUntilCommit", testWriterBytesAreInvisibleUntilCommit},
		{"CommitReplacesCommittedContentAtomically", testCommitReplacesCommittedContentAtomically},
		{"AppendContinuesAfterClose", testAppendContinuesAfterClose},
		{"AppendWithNothingStoredStartsEmpty", testAppendWithNothingStoredStartsEmpty},
		{"AppendAfterCommitContinuesCommittedContent", testAppendAfterCommitContinuesCommittedContent},
		{"WriterWithoutAppendDiscardsPendingBytes", testWriterWithoutAppendDiscardsPendingBytes},
		{"CancelDiscardsPendingBytesOnly", testCancelDiscardsPendingBytesOnly},
		{"FinishedWriterRefusesFurtherUse", testFinishedWriterRefusesFurtherUse},
		{"CommitWithCanceledContextKeepsBytesPending", testCommitWithCanceledContextKeepsBytesPending},
		{"MoveRenamesAndCreatesParents", testMoveRenamesAndCreatesParents},
		{"MoveReplacesExistingFile", testMoveReplacesExistingFile},
		{"DeleteRemovesFile", testDeleteRemovesFile},
		{"DeleteRemovesDirectoryRecursively", testDeleteRemovesDirectoryRecursively},
		{"DeleteRemovesPendingWrite", testDeleteRemovesPendingWrite},
		{"WalkVisitsDirectoriesDepthFirstInLexicalOrder", testWalkVisitsDirectoriesDepthFirstInLexicalOrder},
		{"WalkHonoursSkipDirSkipAllAndErrors", testWalkHonoursSkipDirSkipAllAndErrors},
		{"WalkOfAFileVisitsOnlyIt", testWalkOfAFileVisitsOnlyIt},
		{"WalkHidesPendingWrites", testWalkHidesPendingWrites},
		{"LargeContentStreamsAcrossReopen", testLargeContentStreamsAcrossReopen},
		{"ConcurrentWritersToDifferentPaths", testConcurrentWritersToDifferentPaths},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.test(t, newDriver(t))
		})
	}
}

func testNameIsNotEmpty(t *testing.T, d storage.Driver) {
	if d.Name() == "" {
		t.Fatal("Name() is empty")
	}
}

func testPutContentThenGetContentReturnsIt(t *testing.T, d storage.Driver) {
	for _, tc := range []struct {
		path    string
		content []byte
	}{
		{"/file", []byte("top level")},
		{"/deeply/nested/dirs/are/created/file", []byte("nested")},
		{"/empty", []byte{}},
		{"/binary", []byte{0, 1, 2, 0xff, '\n', 0}},
	} {
		putContent(t, d, tc.path, tc.content)
		if got := getContent(t, d, tc.path); !bytes.Equal(got, tc.content) {
			t.Errorf("GetContent(%s) = %q, want %q", tc.path, got, tc.content)
		}
	}
}

func testPutContentReplacesExistingContent(t *testing.T, d storage.Driver) {
	putContent(t, d, "/a/file", []byte("a longer first version"))
	putContent(t, d, "/a/file", []byte("second"))
	if got := getContent(t, d, "/a/file"); string(got) != "second" {
		t.Fatalf("GetContent = %q, want %q", got, "second")
	}
}

// Writers put uniform content of distinct sizes; a reader seeing mixed
// bytes or a size nobody wrote caught a partial write.
func testConcurrentPutContentNeverShowsPartialContent(t *testing.T, d storage.Driver) {
	ctx := t.Context()
	const writers, rounds = 4, 5
	stop := make(chan struct{})
	var readers, wg sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			got, err := d.GetContent(ctx, "/race/file")
			if errors.Is(err, storage.ErrNotFound) {
				continue
			}
			if err != nil {
				t.Errorf("GetContent: %v", err)
				return
			}
			if len(got) == 0 || len(got) != int(got[0])<<16 || bytes.Count(got, got[:1]) != len(got) {
				t.Errorf("GetContent saw %d bytes that no single PutContent wrote", len(got))
				return
			}
		}
	}()
	for w := 1; w <= writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			content := bytes.Repeat([]byte{byte(w)}, w<<16)
			for range rounds {
				if err := d.PutContent(ctx, "/race/file", content); err != nil {
					t.Errorf("PutContent: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	readers.Wait()
}

func testMissingPathsAreNotFound(t *testing.T, d storage.Driver) {
	ctx := t.Context()
	putContent(t, d, "/dir/file", []byte("x"))
	for _, p := range []string{"/missing", "/dir/missing", "/missing/dir/file", "/dir/file/below-a-file"} {
		_, err := d.GetContent(ctx, p)
		wantNotFound(t, "GetContent("+p+")", err)
		_, err = d.Reader(ctx, p, 0)
		wantNotFound(t, "Reader("+p+")", err)
		_, err = d.Stat(ctx, p)
		wantNotFound(t, "Stat("+p+")", err)
		wantNotFound(t, "Delete("+p+")", d.Delete(ctx, p))
		wantNotFound(t, "Move("+p+")", d.Move(ctx, p, "/elsewhere"))
		wantNotFound(t, "Walk("+p+")", d.Walk(ctx, p, func(storage.FileInfo) error { return nil }))
	}
}

func testInvalidPathsAreRejectedByEveryMethod(t *testing.T, d storage.Driver) {
	ctx := t.Context()
	putContent(t, d, "/ok", []byte("x"))
	for _, p := range []string{
		"", "relative", "relative/path", "/trailing/", "//double", "/a//b",
		"/a/../b", "/..", "/a/./b", "/.", "/.hidden", "/a/.partial",
		"/back\\slash", "/sp ace", "/nul\x00", "/col:on", "/ünïcode",
		"/" + strings.Repeat("a", 1001),
	} {
		checks := map[string]error{}
		_, checks["GetContent"] = d.GetContent(ctx, p)
		checks["PutContent"] = d.PutContent(ctx, p, []byte("x"))
		_, checks["Reader"] = d.Reader(ctx, p, 0)
		_, checks["Writer"] = d.Writer(ctx, p, false)
		_, checks["Writer(append)"] = d.Writer(ctx, p, true)
		_, checks["Stat"] = d.Stat(ctx, p)
		checks["Move from"] = d.Move(ctx, p, "/dst")
		checks["Move to"] = d.Move(ctx, "/ok", p)
		checks["Delete"] = d.Delete(ctx, p)
		checks["Walk"] = d.Walk(ctx, p, func(storage.FileInfo) error { return nil })
		for method, err := range checks {
			if !errors.Is(err, storage.ErrInvalidPath) {
				t.Errorf("%s(%q) = %v, want ErrInvalidPath", method, p, err)
			}
		}
	}
	if got := getContent(t, d, "/ok"); string(got) != "x" {
		t.Errorf("a rejected Move changed its source: %q", got)
	}
}

func testRootIsNotAFile(t *testing.T, d storage.Driver) {
	ctx := t.Context()
	putContent(t, d, "/file", []byte("x"))
	checks := map[string]error{}
	_, checks["GetContent"] = d.GetContent(ctx, "/")
	checks["PutContent"] = d.PutContent(ctx, "/", []byte("x"))
	_, checks["Reader"] = d.Reader(ctx, "/", 0)
	_, checks["Writer"] = d.Writer(ctx, "/", false)
	checks["Move from"] = d.Move(ctx, "/", "/dst")
	checks["Move to"] = d.Move(ctx, "/file", "/")
	checks["Delete"] = d.Delete(ctx, "/")
	for method, err := range checks {
		if !errors.Is(err, storage.ErrInvalidPath) {
			t.Errorf("%s(\"/\") = %v, want ErrInvalidPath", method, err)
		}
	}
	info, err := d.Stat(ctx, "/")
	if err != nil || !info.IsDir {
		t.Errorf("Stat(\"/\") = %+v, %v; want a directory", info, err)
	}
}

func testFileOperationsOnADirectoryFail(t *testing.T, d storage.Driver) {
	ctx := t.Context()
	putContent(t, d, "/dir/file", []byte("x"))
	if _, err := d.GetContent(ctx, "/dir"); err == nil {
		t.Error("GetContent of a directory succeeded")
	}
	if r, err := d.Reader(ctx, "/dir", 0); err == nil {
		r.Close()
		t.Error("Reader of a directory succeeded")
	}
	if w, err := d.Writer(ctx, "/dir", false); err == nil {
		w.Cancel(ctx)
		t.Error("Writer of a directory succeeded")
	}
	if err := d.Move(ctx, "/dir", "/moved"); err == nil {
		t.Error("Move of a directory succeeded")
	}
	if got := getContent(t, d, "/dir/file"); string(got) != "x" {
		t.Errorf("directory content changed: %q", got)
	}
}

func testCanceledContextIsRefused(t *testing.T, d storage.Driver) {
	putContent(t, d, "/file", []byte("x"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	checks := map[string]error{}
	_, checks["GetContent"] = d.GetContent(ctx, "/file")
	checks["PutContent"] = d.PutContent(ctx, "/other", []byte("x"))
	_, checks["Reader"] = d.Reader(ctx, "/file", 0)
	_, checks["Writer"] = d.Writer(ctx, "/other", false)
	_, checks["Stat"] = d.Stat(ctx, "/file")
	checks["Move"] = d.Move(ctx, "/file", "/moved")
	checks["Delete"] = d.Delete(ctx, "/file")
	checks["Walk"] = d.Walk(ctx, "/", func(storage.FileInfo) error { return nil })
	for method, err := range checks {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context = %v, want context.Canceled", method, err)
		}
	}
	if got := getContent(t, d, "/file"); string(got) != "x" {
		t.Errorf("a refused call changed /file: %q", got)
	}
	if _, err := d.Stat(t.Context(), "/other"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a refused call created /other: %v", err)
	}
}

func testReaderStartsAtOffset(t *testing.T, d storage.Driver) {
	content := []byte("0123456789")
	putContent(t, d, "/file", content)
	for _, offset := range []int64{0, 1, 5, 9, 10} {
		r, err := d.Reader(t.Context(), "/file", offset)
		if err != nil {
			t.Fatalf("Reader(offset %d): %v", offset, err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatalf("read at offset %d: %v", offset, err)
		}
		if !bytes.Equal(got, content[offset:]) {
			t.Errorf("Reader(offset %d) read %q, want %q", offset, got, content[offset:])
		}
	}
}

func testReaderRejectsOffsetsOutsideTheFile(t *testing.T, d storage.Driver) {
	putContent(t, d, "/file", []byte("0123456789"))
	for _, offset := range []int64{-1, 11, 1 << 40} {
		r, err := d.Reader(t.Context(), "/file", offset)
		if err == nil {
			r.Close()
		}
		if !errors.Is(err, storage.ErrInvalidOffset) {
			t.Errorf("Reader(offset %d) = %v, want ErrInvalidOffset", offset, err)
		}
	}
}

func testStatDescribesFilesAndDirectories(t *testing.T, d storage.Driver) {
	// Coarse bounds: filesystems and object stores keep whole seconds.
	before := time.Now().Add(-2 * time.Second)
	putContent(t, d, "/dir/sub/file", []byte("12345"))
	after := time.Now().Add(2 * time.Second)

	info := stat(t, d, "/dir/sub/file")
	want := storage.FileInfo{Path: "/dir/sub/file", Size: 5, IsDir: false, ModTime: info.ModTime}
	if info != want {
		t.Errorf("Stat(file) = %+v, want %+v", info, want)
	}
	if info.ModTime.Before(before) || info.ModTime.After(after) {
		t.Errorf("Stat(file).ModTime = %v, want between %v and %v", info.ModTime, before, after)
	}
	for _, dir := range []string{"/dir", "/dir/sub", "/"} {
		if info := stat(t, d, dir); !info.IsDir || info.Path != dir || info.Size != 0 {
			t.Errorf("Stat(%s) = %+v, want a directory of size 0", dir, info)
		}
	}
}

func testWriterBytesAreInvisibleUntilCommit(t *testing.T, d storage.Driver) {
	ctx := t.Context()
	w := writer(t, d, "/file", false)
	for _, chunk := range []string{"hello", ", ", "world"} {
		write(t, w, chunk)
	}
	if w.Size() != 12 {
		t.Errorf("Size() = %d, want 12", w.Size())
	}
	_, err := d.Stat(ctx, "/file")
	wantNotFound(t, "Stat before Commit", err)
	_, err = d.GetContent(ctx, "/file")
	wantNotFound(t, "GetContent before Commit", err)
	commit(t, w)
	if got := getContent(t, d, "/file"); string(got) != "hello, world" {
		t.Fatalf("after Commit GetContent = %q", got)
	}
	if info := stat(t, d, "/file"); info.Size != 12 {
		t.Errorf("after Commit Stat size = %d, want 12", info.Size)
	}
}

func testCommitReplacesCommittedContentAtomically(t *testing.T, d storage.Driver) {
	putContent(t, d, "/file", []byte("old"))
	w := writer(t, d, "/file", false)
	write(t, w, "new and longer")
	if got := getContent(t, d, "/file"); string(got) != "old" {
		t.Fatalf("before Commit GetContent = %q, want the old content", got)
	}
	commit(t, w)
	if got := getContent(t, d, "/file"); string(got) != "new and longer" {
		t.Fatalf("after Commit GetContent = %q, want the new content", got)
	}
}

// This is how a chunked upload survives a restart or moves to another
// process: every chunk opens the writer again with append.
func testAppendContinuesAfterClose(t *testing.T, d storage.Driver) {
	var want string
	for i, chunk := range []string{"first ", "second ", "third"} {
		w := writer(t, d, "/upload/data", i > 0)
		if w.Size() != int64(len(want)) {
			t.Fatalf("reopened writer Size() = %d, want %d", w.Size(), len(want))
		}
		write(t, w, chunk)
		want += chunk
		if w.Size() != int64(len(want)) {
			t.Fatalf("Size() after write = %d, want %d", w.Size(), len(want))
		}
		if err := w.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	w := writer(t, d, "/upload/data", true)
	commit(t, w)
	if got := getContent(t, d, "/upload/data"); string(got) != want {
		t.Fatalf("GetContent = %q, want %q", got, want)
	}
}

func testAppendWithNothingStoredStartsEmpty(t *testing.T, d storage.Driver) {
	w := writer(t, d, "/new/file", true)
	if w.Size() != 0 {
		t.Fatalf("Size() = %d, want 0", w.Size())
	}
	write(t, w, "x")
	commit(t, w)
	if got := getContent(t, d, "/new/file"); string(got) != "x" {
		t.Fatalf("GetContent = %q, want %q", got, "x")
	}

	// Committing nothing stores an empty file.
	w = writer(t, d, "/new/empty", true)
	commit(t, w)
	if info := stat(t, d, "/new/empty"); info.Size != 0 || info.IsDir {
		t.Fatalf("Stat after committing nothing = %+v, want an empty file", info)
	}
}

func testAppendAfterCommitContinuesCommittedContent(t *testing.T, d storage.Driver) {
	putContent(t, d, "/file", []byte("committed"))
	w := writer(t, d, "/file", true)
	if w.Size() != 9 {
		t.Fatalf("Size() = %d, want 9", w.Size())
	}
	write(t, w, " and more")
	if got := getContent(t, d, "/file"); string(got) != "committed" {
		t.Fatalf("before Commit GetContent = %q, want the committed content", got)
	}
	commit(t, w)
	if got := getContent(t, d, "/file"); string(got) != "committed and more" {
		t.Fatalf("after Commit GetContent = %q", got)
	}
}

func testWriterWithoutAppendDiscardsPendingBytes(t *testing.T, d storage.Driver) {
	w := writer(t, d, "/file", false)
	write(t, w, "abandoned")
	w.Close()
	w = writer(t, d, "/file", false)
	if w.Size() != 0 {
		t.Fatalf("Size() = %d, want 0", w.Size())
	}
	w.Close()
	w = writer(t, d, "/file", true)
	if w.Size() != 0 {
		t.Fatalf("append after a fresh writer: Size() = %d, want 0", w.Size())
	}
	write(t, w, "fresh")
	commit(t, w)
	if got := getContent(t, d, "/file"); string(got) != "fresh" {
		t.Fatalf("GetContent = %q, want %q", got, "fresh")
	}
}

func testCancelDiscardsPendingBytesOnly(t *testing.T, d storage.Driver) {
	ctx := t.Context()
	w := writer(t, d, "/pending", false)
	write(t, w, "part one")
	w.Close()
	w = writer(t, d, "/pending", true)
	write(t, w, "part two")
	if err := w.Cancel(ctx); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	_, err := d.Stat(ctx, "/pending")
	wantNotFound(t, "Stat after Cancel", err)
	w = writer(t, d, "/pending", true)
	if w.Size() != 0 {
		t.Errorf("append after Cancel: Size() = %d, want 0", w.Size())
	}
	w.Close()

	putContent(t, d, "/committed", []byte("keep me"))
	w = writer(t, d, "/committed", false)
	write(t, w, "replacement")
	if err := w.Cancel(ctx); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	if got := getContent(t, d, "/committed"); string(got) != "keep me" {
		t.Errorf("Cancel changed committed content to %q", got)
	}
}

func testFinishedWriterRefusesFurtherUse(t *testing.T, d storage.Driver) {
	ctx := t.Context()
	finish := map[string]func(storage.FileWriter) error{
		"Close":  func(w storage.FileWriter) error { return w.Close() },
		"Commit": func(w storage.FileWriter) error { return w.Commit(ctx) },
		"Cancel": func(w storage.FileWriter) error { return w.Cancel(ctx) },
	}
	for name, fn := range finish {
		w := writer(t, d, "/file-"+strings.ToLower(name), false)
		write(t, w, "x")
		if err := fn(w); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := w.Write([]byte("y")); err == nil {
			t.Errorf("Write after %s succeeded", name)
		}
		if err := w.Commit(ctx); err == nil {
			t.Errorf("Commit after %s succeeded", name)
		}
		if err := w.Close(); err != nil {
			t.Errorf("Close after %s = %v, want nil", name, err)
		}
	}
	w := writer(t, d, "/file-commit-cancel", false)
	commit(t, w)
	if err := w.Cancel(ctx); err == nil {
		t.Error("Cancel after Commit succeeded")
	}
	if _, err := d.Stat(ctx, "/file-commit-cancel"); err != nil {
		t.Errorf("Cancel after Commit removed the file: %v", err)
	}
}

func testCommitWithCanceledContextKeepsBytesPending(t *testing.T, d storage.Driver) {
	w := writer(t, d, "/file", false)
	write(t, w, "pending")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := w.Commit(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Commit with a canceled context = %v, want context.Canceled", err)
	}
	_, err := d.Stat(t.Context(), "/file")
	wantNotFound(t, "Stat after a refused Commit", err)
	commit(t, w)
	if got := getContent(t, d, "/file"); string(got) != "pending" {
		t.Fatalf("GetContent = %q, want %q", got, "pending")
	}
}

func testMoveRenamesAndCreatesParents(t *testing.T, d storage.Driver) {
	ctx := t.Context()
	putContent(t, d, "/uploads/id/data", []byte("blob"))
	if err := d.Move(ctx, "/uploads/id/data", "/blobs/sha256/ab/abcd/data"); err != nil {
		t.Fatalf("Move: %v", err)
	}
	if got := getContent(t, d, "/blobs/sha256/ab/abcd/data"); string(got) != "blob" {
		t.Errorf("destination holds %q, want %q", got, "blob")
	}
	_, err := d.Stat(ctx, "/uploads/id/data")
	wantNotFound(t, "Stat(source) after Move", err)
}

func testMoveReplacesExistingFile(t *testing.T, d storage.Driver) {
	putContent(t, d, "/src", []byte("new"))
	putContent(t, d, "/dst", []byte("old content"))
	if err := d.Move(t.Context(), "/src", "/dst"); err != nil {
		t.Fatalf("Move: %v", err)
	}
	if got := getContent(t, d, "/dst"); string(got) != "new" {
		t.Errorf("destination holds %q, want %q", got, "new")
	}
}

func testDeleteRemovesFile(t *testing.T, d storage.Driver) {
	ctx := t.Context()
	putContent(t, d, "/dir/file", []byte("x"))
	putContent(t, d, "/dir/sibling", []byte("y"))
	if err := d.Delete(ctx, "/dir/file"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, err := d.Stat(ctx, "/dir/file")
	wantNotFound(t, "Stat after Delete", err)
	if got := getContent(t, d, "/dir/sibling"); string(got) != "y" {
		t.Errorf("sibling holds %q after Delete", got)
	}
	wantNotFound(t, "second Delete", d.Delete(ctx, "/dir/file"))
}

func testDeleteRemovesDirectoryRecursively(t *testing.T, d storage.Driver) {
	ctx := t.Context()
	for _, p := range []string{"/tree/a", "/tree/b/c", "/tree/b/d/e", "/treehouse"} {
		putContent(t, d, p, []byte(p))
	}
	if err := d.Delete(ctx, "/tree"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	for _, p := range []string{"/tree", "/tree/a", "/tree/b/c", "/tree/b/d/e"} {
		_, err := d.Stat(ctx, p)
		wantNotFound(t, "Stat("+p+") after Delete(/tree)", err)
	}
	if got := getContent(t, d, "/treehouse"); string(got) != "/treehouse" {
		t.Errorf("Delete(/tree) touched /treehouse: %q", got)
	}
}

func testDeleteRemovesPendingWrite(t *testing.T, d storage.Driver) {
	ctx := t.Context()
	w := writer(t, d, "/uploads/id/data", false)
	write(t, w, "pending bytes")
	w.Close()
	if err := d.Delete(ctx, "/uploads/id/data"); err != nil {
		t.Fatalf("Delete of a pending-only file: %v", err)
	}
	w = writer(t, d, "/uploads/id/data", true)
	if w.Size() != 0 {
		t.Errorf("append after Delete: Size() = %d, want 0", w.Size())
	}
	write(t, w, "more")
	w.Close()
	if err := d.Delete(ctx, "/uploads/id"); err != nil {
		t.Fatalf("Delete of the parent directory: %v", err)
	}
	w = writer(t, d, "/uploads/id/data", true)
	defer w.Close()
	if w.Size() != 0 {
		t.Errorf("append after deleting the directory: Size() = %d, want 0", w.Size())
	}
}

func testWalkVisitsDirectoriesDepthFirstInLexicalOrder(t *testing.T, d storage.Driver) {
	// "a-x" sorts before "a/z" as a string; Walk still finishes the
	// directory "a" first, as fs.WalkDir does.
	for _, p := range []string{"/w/c/d/e", "/w/a-x", "/w/b/2", "/w/a/z", "/w/b/1", "/w/b/10", "/other"} {
		putContent(t, d, p, []byte(p))
	}
	type visit struct {
		Path  string
		IsDir bool
		Size  int64
	}
	var got []visit
	err := d.Walk(t.Context(), "/w", func(info storage.FileInfo) error {
		got = append(got, visit{info.Path, info.IsDir, info.Size})
		return nil
	})
	if err != nil {
		t.Fatalf("Walk: %v", err)
	}
	want := []visit{
		{"/w/a", true, 0}, {"/w/a/z", false, 6}, {"/w/a-x", false, 6},
		{"/w/b", true, 0}, {"/w/b/1", false, 6}, {"/w/b/10", false, 7}, {"/w/b/2", false, 6},
		{"/w/c", true, 0}, {"/w/c/d", true, 0}, {"/w/c/d/e", false, 8},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Walk visited\n%v\nwant\n%v", got, want)
	}

	var fromRoot []string
	if err := d.Walk(t.Context(), "/", func(info storage.FileInfo) error {
		fromRoot = append(fromRoot, info.Path)
		return nil
	}); err != nil {
		t.Fatalf("Walk(/): %v", err)
	}
	if len(fromRoot) != len(want)+2 || fromRoot[0] != "/other" || fromRoot[1] != "/w" {
		t.Fatalf("Walk(/) visited %v", fromRoot)
	}
}

func testWalkHonoursSkipDirSkipAllAndErrors(t *testing.T, d storage.Driver) {
	for _, p := range []string{"/w/a/1", "/w/a/2", "/w/b/1", "/w/c"} {
		putContent(t, d, p, []byte("x"))
	}
	walk := func(fn storage.WalkFunc) ([]string, error) {
		var visited []string
		err := d.Walk(t.Context(), "/w", func(info storage.FileInfo) error {
			visited = append(visited, info.Path)
			return fn(info)
		})
		return visited, err
	}

	got, err := walk(func(info storage.FileInfo) error {
		if info.Path == "/w/a" {
			return fs.SkipDir
		}
		return nil
	})
	if want := []string{"/w/a", "/w/b", "/w/b/1", "/w/c"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("SkipDir on /w/a: visited %v, %v; want %v, nil", got, err, want)
	}

	got, err = walk(func(info storage.FileInfo) error {
		if info.Path == "/w/a/1" {
			return fs.SkipAll
		}
		return nil
	})
	if want := []string{"/w/a", "/w/a/1"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("SkipAll on /w/a/1: visited %v, %v; want %v, nil", got, err, want)
	}

	stop := errors.New("stop here")
	got, err = walk(func(info storage.FileInfo) error {
		if info.Path == "/w/b" {
			return stop
		}
		return nil
	})
	if want := []string{"/w/a", "/w/a/1", "/w/a/2", "/w/b"}; err != stop || !slices.Equal(got, want) {
		t.Errorf("error on /w/b: visited %v, %v; want %v, %v", got, err, want, stop)
	}
}

func testWalkOfAFileVisitsOnlyIt(t *testing.T, d storage.Driver) {
	putContent(t, d, "/dir/file", []byte("abc"))
	var got []storage.FileInfo
	if err := d.Walk(t.Context(), "/dir/file", func(info storage.FileInfo) error {
		got = append(got, info)
		return nil
	}); err != nil {
		t.Fatalf("Walk: %v", err)
	}
	if len(got) != 1 || got[0].Path != "/dir/file" || got[0].Size != 3 || got[0].IsDir {
		t.Fatalf("Walk of a file visited %+v", got)
	}
}

func testWalkHidesPendingWrites(t *testing.T, d storage.Driver) {
	putContent(t, d, "/w/committed", []byte("x"))
	w := writer(t, d, "/w/pending", false)
	write(t, w, "not yet")
	w.Close()
	var got []string
	if err := d.Walk(t.Context(), "/w", func(info storage.FileInfo) error {
		got = append(got, info.Path)
		return nil
	}); err != nil {
		t.Fatalf("Walk: %v", err)
	}
	if want := []string{"/w/committed"}; !slices.Equal(got, want) {
		t.Fatalf("Walk visited %v, want %v", got, want)
	}
}

// The content is generated while it is copied, so neither side of the
// test holds it in memory; a driver that buffers whole files shows up in
// the memory profile of this test.
func testLargeContentStreamsAcrossReopen(t *testing.T, d storage.Driver) {
	ctx := t.Context()
	const seed, half = 42, LargeSize / 2
	src := Content(seed, LargeSize)
	w := writer(t, d, "/large", false)
	if _, err := io.CopyN(w, src, half); err != nil {
		t.Fatalf("copy first half: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	w = writer(t, d, "/large", true)
	if w.Size() != half {
		t.Fatalf("reopened Size() = %d, want %d", w.Size(), half)
	}
	if _, err := io.Copy(w, src); err != nil {
		t.Fatalf("copy second half: %v", err)
	}
	commit(t, w)
	if info := stat(t, d, "/large"); info.Size != LargeSize {
		t.Fatalf("Stat size = %d, want %d", info.Size, LargeSize)
	}

	for _, offset := range []int64{0, half + 12345, LargeSize - 1} {
		want := Content(seed, LargeSize)
		if _, err := io.CopyN(io.Discard, want, offset); err != nil {
			t.Fatal(err)
		}
		wantSum, _ := SHA256(want)
		r, err := d.Reader(ctx, "/large", offset)
		if err != nil {
			t.Fatalf("Reader(offset %d): %v", offset, err)
		}
		gotSum, err := SHA256(r)
		r.Close()
		if err != nil {
			t.Fatalf("read at offset %d: %v", offset, err)
		}
		if gotSum != wantSum {
			t.Errorf("content from offset %d differs: sha256 %s, want %s", offset, gotSum, wantSum)
		}
	}
}

func testConcurrentWritersToDifferentPaths(t *testing.T, d storage.Driver) {
	ctx := t.Context()
	const writers, chunks, chunkSize = 16, 4, 256 << 10
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := fmt.Sprintf("/uploads/writer-%d/data", i)
			src := Content(uint64(i), chunks*chunkSize)
			for c := range chunks {
				w, err := d.Writer(ctx, p, c > 0)
				if err != nil {
					t.Errorf("Writer(%s): %v", p, err)
					return
				}
				if _, err := io.CopyN(w, src, chunkSize); err != nil {
					t.Errorf("write %s: %v", p, err)
					return
				}
				if c < chunks-1 {
					err = w.Close()
				} else {
					err = w.Commit(ctx)
				}
				if err != nil {
					t.Errorf("finish chunk %d of %s: %v", c, p, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for i := range writers {
		p := fmt.Sprintf("/uploads/writer-%d/data", i)
		want, _ := SHA256(Content(uint64(i), chunks*chunkSize))
		r, err := d.Reader(ctx, p, 0)
		if err != nil {
			t.Fatalf("Reader(%s): %v", p, err)
		}
		got, err := SHA256(r)
		r.Close()
		if err != nil || got != want {
			t.Errorf("%s: sha256 %s (%v), want %s", p, got, err, want)
		}
	}
}

func putContent(t *testing.T, d storage.Driver, p string, content []byte) {
	t.Helper()
	if err := d.PutContent(t.Context(), p, content); err != nil {
		t.Fatalf("PutContent(%s): %v", p, err)
	}
}

func getContent(t *testing.T, d storage.Driver, p string) []byte {
	t.Helper()
	b, err := d.GetContent(t.Context(), p)
	if err != nil {
		t.Fatalf("GetContent(%s): %v", p, err)
	}
	return b
}

func stat(t *testing.T, d storage.Driver, p string) storage.FileInfo {
	t.Helper()
	info, err := d.Stat(t.Context(), p)
	if err != nil {
		t.Fatalf("Stat(%s): %v", p, err)
	}
	return info
}

func writer(t *testing.T, d storage.Driver, p string, append bool) storage.FileWriter {
	t.Helper()
	w, err := d.Writer(t.Context(), p, append)
	if err != nil {
		t.Fatalf("Writer(%s, append=%v): %v", p, append, err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func write(t *testing.T, w storage.FileWriter, s string) {
	t.Helper()
	if n, err := io.WriteString(w, s); err != nil || n != len(s) {
		t.Fatalf("Write(%q) = %d, %v", s, n, err)
	}
}

func commit(t *testing.T, w storage.FileWriter) {
	t.Helper()
	if err := w.Commit(t.Context()); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

func wantNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("%s = %v, want ErrNotFound", what, err)
	}
}
