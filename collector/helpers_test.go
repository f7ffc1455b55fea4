package collector

import (
	"errors"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func apiExpired() error {
	return apierrors.NewResourceExpired("The provided continue parameter is too old to display a consistent list result.")
}

func apiForbidden(gr schema.GroupResource) error {
	return apierrors.NewForbidden(gr, "", errors.New(`User "checker" cannot list resource "`+gr.Resource+`" in API group "`+gr.Group+`" at the cluster scope`))
}

func objMeta(ns, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: ns, Name: name}
}
