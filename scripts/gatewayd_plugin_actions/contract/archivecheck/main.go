// Command archivecheck reads GatewayD plugin release archives the way `gatewayd plugin install` does:
// with Go's own compress/gzip, archive/tar and archive/zip, walking members in the installer's order
// and applying its rules (which types it accepts, where a member lands, the 100 MiB copy limit, which
// exec bits survive, what a later member with the same path overwrites). It prints, per archive, one
// JSON line: every member as read, the files as they would be left on disk, the error the installer's
// extraction would fail with, and integrity findings the installer never looks at (a damaged gzip
// trailer, data after the end of the tar, a second gzip member, trailing bytes).
//
// It is built on first use with the Go that builds the plugin (stdlib only, no modules), so verdicts
// come from the same readers the installer uses instead of from a re-implementation of them.
package main

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// The installer's constants (cmd/plugin_install.go).
const (
	maxFileSize  = 1024 * 1024 * 100 // MaxFileSize: io.LimitReader on every member
	execFileMask = 0o111             // ExecFileMask
	execFileMode = 0o755             // ExecFilePermissions
	fileMode     = 0o644             // FilePermissions
	outputDir    = "plugins"         // the relative -o every verifier uses (an absolute one breaks install)
	headBytes    = 4096
	maxKeepBytes = 1 << 20
)

type member struct {
	Name    string `json:"name"`    // as stored in the archive
	Path    string `json:"path"`    // where the installer writes it, relative to its cwd ("" = skipped)
	Type    string `json:"type"`    // file, dir, symlink, hardlink, char, block, fifo, pax-global, other
	Mode    uint32 `json:"mode"`    // permission bits as stored
	Size    int64  `json:"size"`    // declared size
	Written int64  `json:"written"` // bytes the installer copies (at most 100 MiB); -1 for non-files
	SHA256  string `json:"sha256,omitempty"`
}

type installed struct {
	Path   string `json:"path"`
	Mode   uint32 `json:"mode"` // 0755 or 0644, as the installer chmods it
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	Head   []byte `json:"head"`   // first bytes, to identify executables
	Data   []byte `json:"data"`   // whole content of the files asked for with -keep; null otherwise
	Writes int    `json:"writes"` // how many members wrote this path (duplicates overwrite)
}

type result struct {
	Archive        string      `json:"archive"`
	Format         string      `json:"format"`
	Members        []member    `json:"members"`
	Files          []installed `json:"files"` // in the order the installer first wrote them
	InstallerError string      `json:"installer_error,omitempty"`
	Integrity      []string    `json:"integrity"`
}

// fsState is the installer's view of its output: which paths are directories and which are files.
type fsState struct {
	dirs  map[string]bool
	files map[string]*installed
	order []string
	keep  map[string]bool
}

func newFS(keep map[string]bool) *fsState {
	return &fsState{dirs: map[string]bool{".": true, outputDir: true}, files: map[string]*installed{}, keep: keep}
}

func escapes(p string) bool { return p == ".." || strings.HasPrefix(p, "../") }

// mkdirAll mirrors os.MkdirAll(p, 0755) inside the simulated tree.
func (s *fsState) mkdirAll(p string) error {
	if s.dirs[p] || escapes(p) {
		return nil
	}
	if _, isFile := s.files[p]; isFile {
		return fmt.Errorf("mkdir %s: not a directory", p)
	}
	if parent := path.Dir(p); parent != p {
		if err := s.mkdirAll(parent); err != nil {
			return err
		}
	}
	s.dirs[p] = true
	return nil
}

// create mirrors os.Create(p) followed by the installer's copy and chmod.
func (s *fsState) create(p string, r io.Reader, exec bool) (int64, string, error) {
	if s.dirs[p] {
		return 0, "", fmt.Errorf("open %s: is a directory", p)
	}
	if parent := path.Dir(p); !escapes(parent) && !s.dirs[parent] {
		if _, isFile := s.files[parent]; isFile {
			return 0, "", fmt.Errorf("open %s: not a directory", p)
		}
		return 0, "", fmt.Errorf("open %s: no such file or directory", p)
	}
	digest := sha256.New()
	head := &capped{limit: headBytes}
	keepAll := s.keep[path.Base(p)] && path.Dir(p) == outputDir
	whole := &capped{limit: maxKeepBytes + 1}
	sinks := []io.Writer{digest, head}
	if keepAll {
		sinks = append(sinks, whole)
	}
	written, err := io.Copy(io.MultiWriter(sinks...), io.LimitReader(r, maxFileSize))
	if err != nil {
		delete(s.files, p) // the installer removes the half-written file
		return written, "", err
	}
	sum := hex.EncodeToString(digest.Sum(nil))
	file, seen := s.files[p]
	if !seen {
		file = &installed{Path: p}
		s.files[p] = file
		s.order = append(s.order, p)
	}
	file.Size, file.SHA256, file.Head, file.Writes = written, sum, head.Bytes(), file.Writes+1
	file.Data = nil
	if keepAll && whole.Len() <= maxKeepBytes {
		file.Data = append([]byte{}, whole.Bytes()...) // non-nil: an empty kept file is "" in JSON, not absent
	}
	file.Mode = fileMode
	if exec {
		file.Mode = execFileMode
	}
	return written, sum, nil
}

func (s *fsState) list() []installed {
	out := make([]installed, 0, len(s.order))
	for _, p := range s.order {
		if f, ok := s.files[p]; ok {
			out = append(out, *f)
		}
	}
	return out
}

// capped keeps the first `limit` bytes written to it and drops the rest.
type capped struct {
	bytes.Buffer
	limit int
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.limit - c.Len(); room > 0 {
		if len(p) < room {
			room = len(p)
		}
		c.Buffer.Write(p[:room])
	}
	return len(p), nil
}

// counter counts the bytes read through it: offsets in the uncompressed tar stream.
type counter struct {
	r io.Reader
	n int64
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func tarType(flag byte) string {
	switch flag {
	case tar.TypeReg:
		return "file"
	case tar.TypeDir:
		return "dir"
	case tar.TypeSymlink:
		return "symlink"
	case tar.TypeLink:
		return "hardlink"
	case tar.TypeChar:
		return "char"
	case tar.TypeBlock:
		return "block"
	case tar.TypeFifo:
		return "fifo"
	case tar.TypeXGlobalHeader:
		return "pax-global"
	}
	return fmt.Sprintf("other(%q)", flag)
}

// readTarGz is extractTarGz without the disk: same readers, same loop, same decisions.
func readTarGz(name string, res *result, state *fsState) {
	file, err := os.Open(name)
	if err != nil {
		res.InstallerError = err.Error()
		return
	}
	defer file.Close()
	gz, err := gzip.NewReader(file)
	if err != nil {
		res.InstallerError = "gzip: " + strings.TrimPrefix(err.Error(), "gzip: ") + " (not a gzip stream)"
		return
	}
	stream := &counter{r: gz}
	reader := tar.NewReader(stream)
	for {
		offset := stream.n
		header, err := reader.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// Next first skips the previous member's padding: the header starts at the next 512-byte block.
			res.InstallerError = fmt.Sprintf("%v (the tar header at byte %d of the uncompressed stream, after %d "+
				"member(s))", err, (offset+511)/512*512, len(res.Members))
			return
		}
		entry := member{Name: header.Name, Type: tarType(header.Typeflag), Mode: uint32(header.Mode) & 0o7777,
			Size: header.Size, Written: -1}
		switch header.Typeflag {
		case tar.TypeDir:
			clean := filepath.Clean(header.Name)
			if !path.IsAbs(clean) {
				entry.Path = path.Join(outputDir, clean)
				if err := state.mkdirAll(entry.Path); err != nil {
					res.Members = append(res.Members, entry)
					res.InstallerError = err.Error()
					return
				}
			}
		case tar.TypeReg:
			entry.Path = path.Join(filepath.Clean(outputDir), filepath.Clean(header.Name))
			mode := header.FileInfo().Mode()
			written, sum, err := state.create(entry.Path, reader, mode.IsRegular() && mode&execFileMask != 0)
			entry.Written, entry.SHA256 = written, sum
			if err != nil {
				res.Members = append(res.Members, entry)
				res.InstallerError = fmt.Sprintf("%v (reading member %q, %d of its %d bytes copied)",
					err, header.Name, written, header.Size)
				return
			}
		default:
			res.Members = append(res.Members, entry)
			res.InstallerError = "unknown file type: " + header.Name
			return
		}
		res.Members = append(res.Members, entry)
	}
	res.Integrity = append(res.Integrity, gzipIntegrity(name, stream.n)...)
}

// gzipIntegrity reads the whole file again, one gzip member at a time, for what the installer's reader
// never reaches: it stops at the tar end-of-archive marker, before the gzip trailer (CRC32, length).
func gzipIntegrity(name string, tarEnd int64) []string {
	var found []string
	file, err := os.Open(name)
	if err != nil {
		return []string{err.Error()}
	}
	defer file.Close()
	buffered := bufio.NewReader(file)
	gz, err := gzip.NewReader(buffered)
	if err != nil {
		return []string{err.Error()}
	}
	gz.Multistream(false)
	tail := &nonZero{skip: tarEnd}
	if _, err := io.Copy(tail, gz); err != nil {
		found = append(found, fmt.Sprintf("the gzip stream is damaged (%v): the installer stops reading at the end "+
			"of the tar, before the gzip checksum, so it would install whatever the damaged stream decodes to", err))
		return found
	}
	if tail.count > 0 {
		found = append(found, fmt.Sprintf("%d non-zero byte(s) after the tar end-of-archive marker (at byte %d): "+
			"the installer ignores them, so what it installs is not the whole file that was checksummed; rebuild "+
			"the archive", tail.count, tarEnd))
	}
	for member := 2; ; member++ {
		if _, err := buffered.Peek(1); errors.Is(err, io.EOF) {
			break
		}
		rest := int64(buffered.Buffered())
		if at, err := file.Seek(0, io.SeekCurrent); err == nil {
			if info, err := file.Stat(); err == nil {
				rest = info.Size() - at + int64(buffered.Buffered())
			}
		}
		if err := gz.Reset(buffered); err != nil {
			found = append(found, fmt.Sprintf("%d byte(s) that are not gzip data follow the gzip stream: the archive "+
				"was appended to or damaged after it was written; rebuild it", rest))
			break
		}
		gz.Multistream(false)
		size, err := io.Copy(io.Discard, gz)
		detail := ""
		if err != nil {
			detail = fmt.Sprintf(", itself damaged: %v", err)
		}
		found = append(found, fmt.Sprintf("gzip member %d (%d bytes uncompressed%s) follows the archive: the "+
			"installer reads the members as one stream and ignores what lies past the tar end; an archive must "+
			"be one gzip member", member, size, detail))
		if err != nil {
			break
		}
	}
	return found
}

// nonZero counts non-zero bytes after the first `skip` bytes (tar pads its end with zero blocks).
type nonZero struct {
	skip, seen, count int64
}

func (z *nonZero) Write(p []byte) (int, error) {
	start := int64(0)
	if z.seen < z.skip {
		start = z.skip - z.seen
	}
	for i := start; i < int64(len(p)); i++ {
		if p[i] != 0 {
			z.count++
		}
	}
	z.seen += int64(len(p))
	return len(p), nil
}

func zipType(mode fs.FileMode) string {
	switch {
	case mode.IsDir():
		return "dir"
	case mode.IsRegular():
		return "file"
	case mode&fs.ModeSymlink != 0:
		return "symlink"
	case mode&fs.ModeCharDevice != 0:
		return "char"
	case mode&fs.ModeDevice != 0:
		return "block"
	case mode&fs.ModeNamedPipe != 0:
		return "fifo"
	}
	return "other"
}

// readZip is extractZip without the disk.
func readZip(name string, res *result, state *fsState) {
	archive, err := zip.OpenReader(name)
	if err != nil {
		res.InstallerError = err.Error()
		return
	}
	defer archive.Close()
	for _, entry := range archive.File {
		info := entry.FileInfo()
		item := member{Name: entry.Name, Type: zipType(info.Mode()), Mode: uint32(info.Mode().Perm()),
			Size: int64(entry.UncompressedSize64), Written: -1}
		switch {
		case info.IsDir():
			clean := filepath.Clean(entry.Name)
			if !path.IsAbs(clean) {
				item.Path = path.Join(outputDir, clean)
				if err := state.mkdirAll(item.Path); err != nil {
					res.Members = append(res.Members, item)
					res.InstallerError = err.Error()
					return
				}
			}
		case info.Mode().IsRegular():
			item.Path = filepath.Join(filepath.Clean(outputDir), filepath.Clean(entry.Name))
			content, err := entry.Open()
			if err != nil {
				res.Members = append(res.Members, item)
				res.InstallerError = fmt.Sprintf("%v (opening member %q)", err, entry.Name)
				return
			}
			mode := entry.FileInfo().Mode()
			written, sum, err := state.create(item.Path, content, mode.IsRegular() && mode&execFileMask != 0)
			content.Close()
			item.Written, item.SHA256 = written, sum
			if err != nil {
				res.Members = append(res.Members, item)
				res.InstallerError = fmt.Sprintf("%v (reading member %q, %d of its %d bytes copied)",
					err, entry.Name, written, entry.UncompressedSize64)
				return
			}
			if written == maxFileSize && entry.UncompressedSize64 > maxFileSize {
				// The copy stopped at the limit, so zip never compared the CRC; check it for the record.
				if err := drain(entry); err != nil {
					res.Integrity = append(res.Integrity, fmt.Sprintf("member %q is damaged (%v)", entry.Name, err))
				}
			}
		default:
			res.Members = append(res.Members, item)
			res.InstallerError = "unknown file type: " + entry.Name
			return
		}
		res.Members = append(res.Members, item)
	}
}

func drain(entry *zip.File) error {
	content, err := entry.Open()
	if err != nil {
		return err
	}
	defer content.Close()
	_, err = io.Copy(io.Discard, content)
	return err
}

func main() {
	keepList := flag.String("keep", "gatewayd_plugin.yaml,checksum.txt", "files at the archive root to return whole")
	flag.Parse()
	keep := map[string]bool{}
	for _, name := range strings.Split(*keepList, ",") {
		if name != "" {
			keep[name] = true
		}
	}
	encoder := json.NewEncoder(os.Stdout)
	for _, name := range flag.Args() {
		res := &result{Archive: name, Members: []member{}, Integrity: []string{}}
		state := newFS(keep)
		// The installer chooses the reader by the installing machine's OS (.zip on Windows), never by
		// content; a verifier picks by the asset's name, as the installer's asset match did.
		if strings.HasSuffix(name, ".zip") {
			res.Format = "zip"
			readZip(name, res, state)
		} else {
			res.Format = "tar.gz"
			readTarGz(name, res, state)
		}
		res.Files = state.list()
		if err := encoder.Encode(res); err != nil {
			fmt.Fprintln(os.Stderr, "archivecheck:", err)
			os.Exit(2)
		}
	}
}
