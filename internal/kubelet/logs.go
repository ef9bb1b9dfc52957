package kubelet

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
)

// alivePoll is how often a followed log checks that its Pod still
// exists: following ends with the Pod.
const alivePoll = time.Second

// GetContainerLogs returns the VM's console log: the last opts.Tail
// lines (all with 0), at most opts.LimitBytes, and with opts.Follow what
// the VM writes next, until the reader is closed, ctx ends or the Pod is
// deleted.
func (p *Provider) GetContainerLogs(ctx context.Context, namespace, podName, containerName string, opts api.ContainerLogOpts) (io.ReadCloser, error) {
	k := key(namespace, podName)
	p.mu.Lock()
	t, ok := p.tracked[k]
	refused := ok && t.progress.Refused
	p.mu.Unlock()
	if !ok {
		return nil, errdefs.NotFoundf("pod %s is not on this node", k)
	}
	if refused {
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	ctx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	go func() {
		err := p.cfg.Host.Logs(ctx, t.rec.Plan.VM, opts.Tail, opts.Follow, pw)
		if errors.Is(err, os.ErrNotExist) || ctx.Err() != nil {
			err = nil // not started yet; or followed to the end
		}
		pw.CloseWithError(err)
	}()
	if opts.Follow {
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-time.After(alivePoll):
				}
				p.mu.Lock()
				alive := p.tracked[k] == t
				p.mu.Unlock()
				if !alive {
					cancel()
					return
				}
			}
		}()
	}
	var r io.Reader = pr
	if opts.LimitBytes > 0 {
		r = io.LimitReader(pr, int64(opts.LimitBytes))
	}
	return &logReader{Reader: r, pr: pr, cancel: cancel}, nil
}

// logReader ends the log's writer when closed.
type logReader struct {
	io.Reader
	pr     *io.PipeReader
	cancel context.CancelFunc
}

func (l *logReader) Close() error {
	l.cancel()
	return l.pr.Close()
}
