// Command kustomize builds a kustomization with kustomize's Go API, the engine of
// `kubectl kustomize`, and prints the result: `make deploy`, `make undeploy` and
// `make build-installer` use it, so they need no kustomize or kubectl binary to
// render. With -image, the operator's image (named `controller` in
// config/manager) is set through an overlay, as `kustomize edit set image` would,
// without changing a file of the repository.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

func main() {
	image := flag.String("image", "", "Image of the operator, as REPOSITORY[:TAG] or REPOSITORY@DIGEST (default: the kustomization's).")
	out := flag.String("o", "", "Write the result to this file instead of standard output.")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: kustomize [-image IMG] [-o FILE] DIR\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	data, err := Build(flag.Arg(0), *image)
	if err == nil {
		if *out == "" {
			_, err = os.Stdout.Write(data)
		} else {
			err = writeFile(*out, data)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kustomize:", err)
		os.Exit(1)
	}
}

// Build renders the kustomization in dir, with the operator's image set to image
// unless it is empty.
func Build(dir, image string) ([]byte, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	target := dir
	if image != "" {
		overlay, err := os.MkdirTemp("", "kustomize-image-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(overlay)
		// Kustomize takes no absolute path to a base.
		base, err := filepath.Rel(overlay, dir)
		if err != nil {
			return nil, err
		}
		k := types.Kustomization{Resources: []string{base}, Images: []types.Image{ImageOverride(image)}}
		data, err := yaml.Marshal(k)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(overlay, "kustomization.yaml"), data, 0o644); err != nil {
			return nil, err
		}
		target = overlay
	}
	// kubectl kustomize's order: namespaces and CRDs before what lives in them.
	opts := krusty.MakeDefaultOptions()
	opts.Reorder = krusty.ReorderOptionLegacy
	resources, err := krusty.MakeKustomizer(opts).Run(filesys.MakeFsOnDisk(), target)
	if err != nil {
		return nil, err
	}
	return resources.AsYaml()
}

// ImageOverride is the kustomize image entry that points `controller` at image.
func ImageOverride(image string) types.Image {
	img := types.Image{Name: "controller", NewName: image}
	if name, digest, ok := strings.Cut(image, "@"); ok {
		img.NewName, img.Digest = name, digest
		return img
	}
	// A colon after the last slash starts the tag; one before it is a registry's port.
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		img.NewName, img.NewTag = image[:i], image[i+1:]
	}
	return img
}

func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}
